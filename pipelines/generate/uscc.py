"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

Layout of the 18 characters: registration authority (1), entity type (1), administrative
division (6), organisation code (9, itself carrying a GB 11714 check character), check (1).
The alphabet leaves out I, O, Z, S and V so that codes survive being read aloud and retyped.
"""

from __future__ import annotations

import numpy as np

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
# Weight of position i (0-based) is 3**i mod 31, as tabulated in the standard.
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

# GB 11714 organisation code: 8 body characters, weights below, check = 11 - sum mod 11.
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])
# Body characters we generate: digits mostly, a few letters valid in both alphabets.
_ORG_BODY_CHARS = np.array(list("0123456789" * 4 + "ABCDEFGHJKLMNPQRTUWXY"))
# Letters in an organisation code count 10..35 (A=10 .. Z=35) under GB 11714.
_ORG_BODY_ORG_VALUES = np.array([int(c, 36) for c in _ORG_BODY_CHARS])
_ORG_CHECK_CHARS = np.array(list("0123456789X"))
_ALPHABET_CHARS = np.array(list(ALPHABET))
# Code point -> USCC value, for vectorised checks on '<U1' arrays viewed as uint32.
_CODEPOINT_VALUE = np.zeros(128, dtype=np.int64)
_CODEPOINT_VALUE[[ord(c) for c in ALPHABET]] = np.arange(len(ALPHABET))


def uscc_check_char(first17: str) -> str:
    """Return the 18th (check) character for the first 17 characters of a USCC.

    Raises ``ValueError`` if the input is not 17 characters from the USCC alphabet.
    """
    if len(first17) != 17:
        raise ValueError(f"expected 17 characters, got {len(first17)}")
    try:
        total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the USCC alphabet") from exc
    return ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """True if ``code`` is 18 characters from the USCC alphabet with a correct check character.

    Upper case is required (the standard has no lower-case form); callers normalise first.
    """
    if not isinstance(code, str) or len(code) != 18:
        return False
    if any(ch not in _VALUE for ch in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def make_uscc(
    rng: np.random.Generator,
    division_codes: np.ndarray | list[str],
    entity_type: str = "1",
    authority: str = "9",
) -> np.ndarray:
    """Generate one valid USCC per entry of ``division_codes`` (6-digit strings), vectorised.

    ``authority`` 9 is the market regulator (工商) and ``entity_type`` 1 a company, which is what
    almost every B2B customer is. The organisation-code part carries its own GB 11714 check
    character. Codes are random, so callers that need unique codes should de-duplicate.
    Returns an object array of 18-character strings.
    """
    divisions = np.asarray(division_codes, dtype="<U6")
    n = len(divisions)
    if n == 0:
        return np.array([], dtype=object)
    chars = np.empty((n, 18), dtype="<U1")
    chars[:, 0] = authority
    chars[:, 1] = entity_type
    chars[:, 2:8] = divisions.view("<U1").reshape(n, 6)
    body_idx = rng.integers(0, len(_ORG_BODY_CHARS), size=(n, 8))
    chars[:, 8:16] = _ORG_BODY_CHARS[body_idx]
    org_check = (11 - (_ORG_BODY_ORG_VALUES[body_idx] * _ORG_WEIGHTS).sum(axis=1) % 11) % 11
    chars[:, 16] = _ORG_CHECK_CHARS[org_check]
    values = _CODEPOINT_VALUE[np.ascontiguousarray(chars[:, :17]).view(np.uint32)]
    checks = (31 - (values * np.array(WEIGHTS)).sum(axis=1) % 31) % 31
    chars[:, 17] = _ALPHABET_CHARS[checks]
    return np.ascontiguousarray(chars).view("<U18").ravel().astype(object)
