"""The dbt project as dagster-dbt sees it (paths only; the assets live in ``assets.py``).

The manifest (``dbt_project/target/manifest.json``) is produced by ``dbt parse``, never at
import here:

    cd dbt_project && STRATUM_WAREHOUSE=$PWD/../data/warehouse/stratum.duckdb \
        ../.venv/bin/dbt parse --profiles-dir .

(``STRATUM_WAREHOUSE`` only has to be set for the profile to render; parse does not connect.)
"""

from __future__ import annotations

from dagster_dbt import DbtProject

from pipelines.settings import DBT_PROJECT_DIR

stratum_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
