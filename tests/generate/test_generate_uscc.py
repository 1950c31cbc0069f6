"""USCC check character (GB 32100-2015) against published codes, and generated codes."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.generate.uscc import ALPHABET, is_valid_uscc, make_uscc, uscc_check_char

# Real codes from public registrations (each verified by hand with the standard's algorithm).
KNOWN_CODES = ["91350100M000100Y43", "91110000600037341L", "91440300708461136T"]


@pytest.mark.parametrize("code", KNOWN_CODES)
def test_check_char_of_published_codes(code: str) -> None:
    assert uscc_check_char(code[:17]) == code[17]
    assert is_valid_uscc(code)


@pytest.mark.parametrize("code", KNOWN_CODES)
def test_any_single_substitution_is_detected(code: str) -> None:
    # A weighted mod-31 check catches every single-character error.
    for pos in range(17):
        for ch in "0A9X":
            if ch != code[pos]:
                assert not is_valid_uscc(code[:pos] + ch + code[pos + 1 :])


def test_rejects_malformed_input() -> None:
    assert not is_valid_uscc("91350100M000100Y4")  # 17 chars
    assert not is_valid_uscc("91350100M000100Y43 ")
    assert not is_valid_uscc("91350100m000100Y43")  # lower case
    assert not is_valid_uscc("91350100I000100Y43")  # I is not in the alphabet
    with pytest.raises(ValueError):
        uscc_check_char("9135010OM000100Y4")  # letter O
    assert set("IOZSV").isdisjoint(ALPHABET) and len(ALPHABET) == 31


def test_generated_codes_are_valid_and_structured() -> None:
    rng = np.random.default_rng(0)
    divisions = np.array(["330100", "440300", "110000"] * 400)
    codes = make_uscc(rng, divisions)
    assert len(codes) == len(divisions)
    assert all(is_valid_uscc(c) for c in codes)
    assert all(c.startswith("91" + d) for c, d in zip(codes, divisions, strict=True))
    assert len(set(codes)) > 1190  # random organisation codes rarely collide
    # Positions 9-17 carry a GB 11714 organisation-code check character.
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    for code in codes[:200]:
        body = code[8:16]
        check = (11 - sum(int(ch, 36) * w for ch, w in zip(body, weights, strict=True)) % 11) % 11
        assert code[16] == ("X" if check == 10 else str(check))
