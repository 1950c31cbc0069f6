"""USCC (统一社会信用代码) check character, for building valid test codes.

Independent re-implementation of GB 32100-2015 used to check the dbt macro uscc_is_valid.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]


def check_char(first17: str) -> str:
    """The 18th character that makes ``first17`` a valid USCC."""
    total = sum(CHARSET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def make_uscc(serial: int) -> str:
    """A valid USCC with the given serial number (org code part), e.g. 91330100MA2xxxxx."""
    body = f"9133010{serial:010d}"
    return body + check_char(body)
