"""Great Expectations quality gates: suites in ``expectations/``, policy in ``config/quality.yaml``."""

import os

# GX reads this when it is first imported; set it before any submodule imports GX.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
