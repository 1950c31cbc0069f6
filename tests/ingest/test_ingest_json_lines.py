"""A JSON Lines record is parsed by orjson where it can and by ``json.loads`` where orjson
refuses: every line must come out exactly as ``json.loads`` alone gave it, or fail with its
error."""

from __future__ import annotations

import json
import math
import random

import pytest

from pipelines.ingest.rowwise_readers import _loads, cell_to_text

HOSTILE = [
    '{"a": 1}',
    '{"a": NaN, "b": Infinity, "c": -Infinity}',  # json.loads accepts these, orjson does not
    '{"big": 123456789012345678901234567890}',  # beyond 64 bits
    '{"neg": -9223372036854775809, "max": 18446744073709551615}',
    '{"s": "\\ud800"}',  # a lone surrogate
    '{"a": 1, "a": 2}',  # duplicate keys: the last wins
    '{"f": 1e400, "g": -1e-400, "h": 0.1, "i": 1E2, "j": -0.0}',
    '{"u": "\\u0000 \\u4e2d\\u6587 \\ud83d\\ude00", "e": "", "t": "\\t\\n"}',
    '{"nested": {"x": [1, {"y": null}], "z": true}}',
    '  {"padded": "yes"}  \r\n',
    '{"a": 1,}',  # trailing comma: both refuse
    '{"a": 01}',  # leading zero: both refuse
    "{'a': 1}",
    '{"a": "raw\tcontrol"}',  # a raw control character inside a string
    '{"a": 1} {"b": 2}',
    "[1, 2]",
    '"text"',
    "\u00a0{}",  # a non-JSON space first
    "[" * 1200 + "]" * 1200,  # deeper than orjson goes
]


def _outcome(parse, text: str):
    """The parse's value (NaN made comparable) or its error's type and message."""
    try:
        value = parse(text)
    except RecursionError:
        return ("RecursionError",)
    except ValueError as exc:  # json.JSONDecodeError (orjson's subclasses it)
        return ("error", type(exc).__name__, str(exc))
    return ("value", _comparable(value))


def _comparable(value):
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float):
        return ("float", value.hex())  # -0.0 and 0.0 differ here
    if isinstance(value, dict):
        return ("dict", [(k, _comparable(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_comparable(v) for v in value])
    return (type(value).__name__, value)


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_line_parses_as_json_loads_parses_it(text):
    assert _outcome(_loads, text) == _outcome(json.loads, text)


def test_random_records_parse_as_json_loads_parses_them():
    rng = random.Random(19)
    scalars = [None, True, False, 0, -7, 2**63, 2**64 + 1, 1.5, -2.25e-7, 1e308, float("nan"),
               float("inf"), "", "中文", "a\"b\\c", "\u2028", "\ud83d\ude00", "\x00"]  # fmt: skip
    keys = ["lead_id", "LEAD_ID", " Status ", "备注", "a", "a", "emoji😀"]

    def value(depth: int):
        kind = rng.random()
        if depth < 3 and kind < 0.15:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        if depth < 3 and kind < 0.3:
            return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 3))}
        return rng.choice(scalars)

    lines = []
    for _ in range(2000):
        record = {rng.choice(keys): value(0) for _ in range(rng.randint(0, 6))}
        text = json.dumps(record, ensure_ascii=rng.random() < 0.5)
        if rng.random() < 0.1:  # a duplicated key, as a hand-edited file may hold
            text = text.replace("{", '{"a": 1, ', 1) if text != "{}" else '{"a": 1, "a": 2}'
        lines.append(text)
    different = [t for t in lines if _outcome(_loads, t) != _outcome(json.loads, t)]
    assert different == []


def test_random_numbers_parse_as_json_loads_parses_them():
    """Integers and decimals of 1 to 25 digits, with and without exponents (subnormal to
    overflowing), signed: the same int or the same float (to the bit) as json.loads."""
    rng = random.Random(3)
    lines = []
    for _ in range(20_000):
        number = "".join(rng.choices("0123456789", k=rng.randint(1, 25))).lstrip("0") or "0"
        if rng.random() < 0.7:
            cut = rng.randint(0, len(number))
            number = (number[:cut] or "0") + "." + (number[cut:] or "0")
        if rng.random() < 0.5:
            number += f"e{rng.randint(-330, 310)}"
        lines.append('{"v": ' + ("-" if rng.random() < 0.3 else "") + number + "}")
    different = [t for t in lines if _outcome(_loads, t) != _outcome(json.loads, t)]
    assert different == []


def test_cells_keep_their_text_and_strings_come_back_as_they_are():
    class Tagged(str):
        pass

    assert cell_to_text("  padded ") == "  padded "
    assert type(cell_to_text(Tagged("x"))) is str
    assert [cell_to_text(v) for v in (None, True, 120.0, 1.5, 7, [1, "中"], {"k": None})] == [
        None, "true", "120", "1.5", "7", '[1, "中"]', '{"k": null}'
    ]  # fmt: skip
