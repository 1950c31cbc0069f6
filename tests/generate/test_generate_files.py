"""Landing files on disk: contract columns, formats, encodings, determinism, the CLI."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines.generate import World, generate_world, write_landing
from pipelines.generate.__main__ import main
from pipelines.settings import ENTITIES, LANDING_ENTITIES, REPO_ROOT
from tests.generate.conftest import AS_OF

# Extra columns the generator delivers on purpose (the contract says extras are reported).
EXTRA_COLUMNS = {"risk": {"company_name"}}


def _contract_columns() -> dict[str, list[str]]:
    """Column names per entity, parsed from docs/data-contract.md."""
    text = (REPO_ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    columns: dict[str, list[str]] = {}
    entity = None
    for line in text.splitlines():
        heading = re.match(r"### `(\w+)`", line)
        if heading:
            entity = heading.group(1)
            columns[entity] = []
            continue
        row = re.match(r"\| (\w+) \| (string|integer|decimal|date|timestamp|boolean) \|", line)
        if entity and row:
            columns[entity].append(row.group(1))
    return columns


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        encoding = "gbk" if path.parent.name == "risk" else "utf-8-sig"
        return pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    if path.suffix == ".xlsx":
        return pd.read_excel(path, dtype=object)
    raise AssertionError(path)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_entity_written_in_its_format(written: dict[str, list[Path]]) -> None:
    assert set(ENTITIES) <= set(written)
    suffix = {
        "crm_accounts": ".csv",
        "crm_contacts": ".csv",
        "crm_leads": ".jsonl",
        "crm_activities": ".parquet",
        "orders": ".parquet",
        "risk": ".csv",
        "surveys": ".xlsx",
    }
    unmatched = [p for p in written["orders"] if p.stem.startswith("orders_unmatched_")]
    assert [p.name for p in unmatched] == [f"orders_unmatched_{AS_OF.isoformat()}.csv"]
    for entity in ENTITIES:
        for path in written[entity]:
            assert path.parent.name == entity
            assert path.suffix == suffix[entity] or path in unmatched
            assert path.stat().st_size > 0
    assert written["crm_accounts"][0].name == f"crm_accounts_{AS_OF.isoformat()}.csv"
    years = sorted(int(p.stem.split("_")[1]) for p in written["orders"] if p not in unmatched)
    assert years == list(range(AS_OF.year - 3, AS_OF.year + 1))


def test_unmatched_orders_reference_no_crm_account(written, world) -> None:
    """The order-system export of buyers missing from the CRM: each row must be quarantined as
    an unknown account by ingestion, so none of its buyers may exist in the CRM."""
    (path,) = [p for p in written["orders"] if p.stem.startswith("orders_unmatched_")]
    orders = pd.read_csv(path, dtype=str)
    assert len(orders) >= 3
    assert not set(orders["account_id"]) & set(world.crm_accounts["account_id"])
    assert not set(orders["order_id"]) & set(world.orders["order_id"])
    assert (orders["amount_cny"].astype(float) > 0).all()


def test_landing_columns_match_contract(written: dict[str, list[Path]]) -> None:
    contract = _contract_columns()
    # Every documented entity; the generator writes the sources (erasure requests are not data
    # of the world, tests write them).
    assert set(contract) == set(LANDING_ENTITIES)
    for entity in ENTITIES:
        for path in written[entity]:
            columns = list(_read(path).columns)
            expected = contract[entity]
            assert columns[: len(expected)] == expected, (entity, columns)
            assert set(columns[len(expected) :]) == EXTRA_COLUMNS.get(entity, set()), entity


def test_ground_truth_outside_landing(written: dict[str, list[Path]]) -> None:
    landing = written["crm_accounts"][0].parent.parent
    for path in written["ground_truth"]:
        assert not path.resolve().is_relative_to(landing.resolve())
    truth = pd.read_parquet(written["ground_truth"][0])
    required = {
        "account_id",
        "true_company_id",
        "is_duplicate_record",
        "duplicate_kind",
        "true_value",
        "true_segment",
        "engagement_propensity",
        "churned_before_as_of",
        "future_churn",
        "future_orders_365d",
        "future_net_revenue_365d",
    }
    assert required <= set(truth.columns)
    leads = pd.read_parquet(written["ground_truth"][1])
    assert {"lead_id", "true_conversion_probability"} <= set(leads.columns)
    with pytest.raises(ValueError):
        write_landing(generate_world(50, 1, AS_OF), landing, landing / "truth")


def test_encodings(written: dict[str, list[Path]]) -> None:
    risk = written["risk"][0].read_bytes()
    risk.decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        risk.decode("utf-8")
    accounts = written["crm_accounts"][0].read_bytes()
    assert accounts.startswith(b"\xef\xbb\xbf")
    accounts.decode("utf-8")
    contacts = written["crm_contacts"][0].read_bytes()
    assert not contacts.startswith(b"\xef\xbb\xbf")
    contacts.decode("utf-8")
    leads = written["crm_leads"][0].read_text(encoding="utf-8")
    assert "\\u" not in leads  # ensure_ascii=False: readable UTF-8, not escapes
    first = json.loads(leads.splitlines()[0])
    assert list(first) == _contract_columns()["crm_leads"]


def test_chinese_text_round_trips(world: World, written: dict[str, list[Path]]) -> None:
    accounts = _read(written["crm_accounts"][0])
    assert accounts["account_name"].tolist() == world.crm_accounts["account_name"].tolist()
    # a duplicate record may lack its city: an empty CSV field
    assert accounts["city"].tolist() == world.crm_accounts["city"].fillna("").tolist()
    contacts = _read(written["crm_contacts"][0])
    assert contacts["full_name"].tolist() == world.crm_contacts["full_name"].tolist()
    risk = _read(written["risk"][0])
    assert risk["company_name"].tolist() == world.risk["company_name"].tolist()
    assert set(risk["abnormal_operation"]) == {"是", "否"}
    surveys = _read(written["surveys"][0])
    expected = world.surveys["comment"].astype(object).where(world.surveys["comment"].notna(), None)
    got = surveys["comment"].astype(object).where(surveys["comment"].notna(), None)
    assert got.tolist() == expected.tolist()
    assert any(isinstance(c, str) and re.search(r"[\u4e00-\u9fff]", c) for c in got)
    orders = pd.concat(
        [_read(p) for p in written["orders"] if not p.stem.startswith("orders_unmatched_")],
        ignore_index=True,
    )
    assert set(orders["product_line"]) == set(world.orders["product_line"])
    assert len(orders) == len(world.orders)


def test_values_survive_the_formats(world: World, written: dict[str, list[Path]]) -> None:
    accounts = _read(written["crm_accounts"][0])
    assert accounts["created_at"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert set(accounts["is_deleted"]) <= {"true", "false"}
    # Integers stay integers (no "12.0"), missing values are empty.
    emp = accounts["employee_count"]
    assert emp[emp != ""].str.fullmatch(r"\d+").all() and (emp == "").any()
    assert (
        accounts["annual_revenue_cny"][accounts["annual_revenue_cny"] != ""]
        .str.fullmatch(r"\d+\.\d\d")
        .all()
    )
    orders = pd.concat(
        [_read(p) for p in written["orders"] if not p.stem.startswith("orders_unmatched_")],
        ignore_index=True,
    )
    merged = orders.merge(world.orders, on="order_id", suffixes=("_file", ""))
    assert (merged["amount_cny_file"] == merged["amount_cny"]).all()
    assert (merged["account_id_file"] == merged["account_id"]).all()
    surveys = load_workbook(written["surveys"][0], read_only=True)
    sheet = surveys.worksheets[0]
    header = next(sheet.iter_rows(max_row=1, values_only=True))
    assert list(header) == _contract_columns()["surveys"]


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    def run(seed: int, name: str) -> dict[str, str]:
        root = tmp_path / name
        paths = main(
            [
                "--accounts",
                "600",
                "--seed",
                str(seed),
                "--out",
                str(root / "landing"),
                "--as-of",
                AS_OF.isoformat(),
            ]
        )
        assert (root / "ground_truth" / "accounts.parquet").exists()  # default location
        return {str(p.relative_to(root)): _sha(p) for group in paths.values() for p in group}

    first = run(3, "a")
    second = run(3, "b")
    third = run(4, "c")
    assert first == second
    shared = set(first) & set(third)
    assert len(shared) >= 8
    assert all(first[k] != third[k] for k in shared)
