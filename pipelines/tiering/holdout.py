"""Control groups: a stable, per-tier share of accounts held out from tier treatment.

An account is in the control group when ``u(golden_account_id, salt) < share[tier]``, where
``u`` maps sha256(``"<golden_account_id>|<salt>"``) to [0, 1). The draw depends only on the id
and the salt, so membership is stable across runs while the account stays in its tier, and
changing the salt re-draws everyone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

_SCALE = float(2**64)


def holdout_draw(ids: pd.Series, salt: str) -> np.ndarray:
    """Uniform [0, 1) value per id, deterministic in (id, salt)."""
    suffix = f"|{salt}".encode()
    values = [
        int.from_bytes(hashlib.sha256(str(i).encode() + suffix).digest()[:8], "big")
        for i in ids.to_numpy(dtype=object)
    ]
    return np.asarray(values, dtype=np.float64) / _SCALE


def assign_control_group(
    ids: pd.Series, tiers: pd.Series, shares: Mapping[str, float], salt: str
) -> np.ndarray:
    """True where the account is held out; tiers without a share are never held out."""
    if not shares or len(ids) == 0:
        return np.zeros(len(ids), dtype=bool)
    share = tiers.map(dict(shares)).fillna(0.0).to_numpy(dtype=float)
    return holdout_draw(ids, salt) < share
