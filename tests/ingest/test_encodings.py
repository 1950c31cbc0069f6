"""Encoding proof on realistic text, the load-time bound, and their configuration."""

from __future__ import annotations

import typing
from datetime import UTC, date, datetime

import pytest

from pipelines.generate import generate_world
from pipelines.ingest.encodings import ENCODINGS, prepare_text
from pipelines.ingest.errors import LandingFileError
from pipelines.ingest.loader import load_limits
from pipelines.ingest.sources_config import SourceConfig
from tests.ingest.conftest import assert_reconciles, load, quarantined

HEADER = "account_id,account_name,city,created_at,updated_at"


@pytest.fixture(scope="module")
def names() -> list[tuple[str, str]]:
    """(company name, city) of a generated world: the text real exports carry."""
    world = generate_world(300, 11, date(2024, 6, 1))
    accounts = world.landing_frames()["crm_accounts"]
    return list(zip(accounts["account_name"], accounts["city"].fillna(""), strict=True))


def _rows(names: list[tuple[str, str]]) -> list[str]:
    return [f"G{i},{name},{city},2023-01-01,2024-01-01" for i, (name, city) in enumerate(names, 1)]


@pytest.mark.parametrize(
    ("codec", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8"), ("gbk", "gb18030"), ("gb18030", "gb18030"),
     ("utf-16", "utf-16")],
)  # fmt: skip
def test_generated_names_survive_every_detected_encoding(con, landing, names, codec, detected):
    path = landing / "crm_accounts" / "world.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(("\n".join([HEADER, *_rows(names)]) + "\n").encode(codec))
    report = load(con, landing, "crm_accounts")
    assert [(f.status, f.encoding) for f in report.files] == [("loaded", detected)]
    assert quarantined(con, "crm_accounts") == []
    loaded = con.execute(
        "SELECT account_name, coalesce(city, '') FROM raw.crm_accounts ORDER BY _source_line"
    ).fetchall()
    # Values are trimmed (the generator pads some names with blanks, as CRMs do).
    assert loaded == [(name.strip(" \u3000\u00a0"), city) for name, city in names]
    assert_reconciles(con)


def test_every_utf8_row_inside_a_gbk_file_is_caught(tmp_path, names):
    """The old rule (UTF-8, else GB18030) loaded a UTF-8 row that happens to be valid GB18030
    as mojibake (杭州云启… -> 鏉窞浜戝惎…); every such row, and every other one, now fails."""
    header = "account_id,account_name,created_at,updated_at"
    rows = [f"G{i},{name},2023-01-01,2024-01-01" for i, (name, _) in enumerate(names[:200], 1)]
    decodable = [i for i, row in enumerate(rows) if _gb18030_ok((row + "\n").encode())]
    # 120 of these 200 rows decode as GB18030 (measured): the corruption was common.
    assert len(decodable) >= 60
    others = [i for i in range(len(rows)) if i not in decodable]
    for i in decodable[:20] + others[:10]:
        data = b"".join(
            (line + "\n").encode("utf-8" if n == i + 1 else "gbk")
            for n, line in enumerate([header, *rows])
        )
        path = tmp_path / f"mixed_{i}.csv"
        path.write_bytes(data)
        with pytest.raises(LandingFileError) as info:
            prepare_text(path, False, "auto", path.name, tmp_path)
        # A UTF-8 first row makes the file UTF-8 up to line 3, which is then named instead.
        assert info.value.location == f"line {i + 2 if i else 3}"
        assert "the file mixes encodings" in info.value.reason


def _gb18030_ok(data: bytes) -> bool:
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def test_big5_text_is_not_taken_for_gb18030(tmp_path):
    trad = ["臺北市信義區科技股份有限公司", "國立臺灣大學醫學院附設醫院", "新竹縣竹北市光明六路"]
    path = tmp_path / "big5.csv"
    path.write_bytes(
        ("\n".join([HEADER, *_rows([(t, "臺北市") for t in trad])]) + "\n").encode("cp950")
    )
    source = prepare_text(path, False, "auto", path.name, tmp_path)
    assert source.encoding == "big5"
    assert trad[1] in source.path.read_text(encoding="utf-8")


def test_load_limits_use_the_shanghai_wall_clock_plus_tolerance():
    utc = datetime(2024, 6, 30, 17, 30, tzinfo=UTC)  # 01:30 on July 1st in Shanghai
    assert load_limits(utc, 0) == (date(2024, 7, 1), datetime(2024, 7, 1, 1, 30))
    assert load_limits(utc, 24) == (date(2024, 7, 2), datetime(2024, 7, 2, 1, 30))
    naive = datetime(2024, 6, 30, 18, 0, 0, 123)  # already a Shanghai wall clock
    assert load_limits(naive, 1.5) == (date(2024, 6, 30), datetime(2024, 6, 30, 19, 30))


def test_zero_tolerance_quarantines_anything_after_the_load_time(con, landing):
    path = landing / "crm_accounts" / "t.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        HEADER + "\nZ1,准点公司,,2023-01-01,2024-06-30 18:00:00\n"
        "Z2,超前公司,,2023-01-01,2024-06-30 18:00:01\n",
        encoding="utf-8",
    )
    load(con, landing, "crm_accounts", future_tolerance_hours=0)
    assert quarantined(con, "crm_accounts") == [
        (3, "in the future (after 2024-06-30 18:00:00): updated_at='2024-06-30 18:00:01'")
    ]


def test_declarable_encodings_are_the_readers_encodings():
    declared = typing.get_args(SourceConfig.model_fields["encoding"].annotation)
    assert set(declared) == set(ENCODINGS)


def test_a_file_without_line_breaks_fails_with_bounded_memory(tmp_path, monkeypatch):
    from pipelines.ingest import encodings

    monkeypatch.setattr(encodings, "MAX_LINE_BYTES", 3 * 1024 * 1024)
    path = tmp_path / "blob.csv"
    path.write_bytes(b"order_id," + b"x" * (5 * 1024 * 1024))
    with pytest.raises(LandingFileError) as info:
        prepare_text(path, False, "auto", "orders/blob.csv", tmp_path)
    assert str(info.value) == (
        "orders/blob.csv: no line break in 4194304 bytes from byte offset 0: not a delimited "
        "text file, or a record over the 3145728 bytes limit"
    )
