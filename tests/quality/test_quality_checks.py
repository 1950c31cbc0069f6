"""The Dagster layer: a blocking gx_orders check gates what is downstream of raw/orders."""

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    DagsterInstance,
    Definitions,
    asset,
    materialize,
)

from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.quality.checks import customer_360_quality_checks, raw_quality_checks
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.settings import ENTITIES
from tests.quality.conftest import AS_OF, orders_frame

ORDERS_CHECK = AssetCheckKey(AssetKey(["raw", "orders"]), "gx_orders")


def _stand_in_raw_orders(mode: str):
    """A tiny raw/orders asset that appends one batch (tagged with this run id) + manifest."""

    @asset(key=AssetKey(["raw", "orders"]), partitions_def=AS_OF_PARTITIONS)
    def raw_orders(context: AssetExecutionContext, warehouse: Warehouse) -> None:
        frame = orders_frame(6, run_id=context.run_id)
        if mode == "bad":
            frame.loc[[0, 3], "status"] = "shipped"
            frame.loc[5, "amount_cny"] = -1.0  # its refund is null, so only the range fails
        elif mode == "warn":
            frame.loc[1, ["order_id", "updated_at"]] = frame.loc[
                0, ["order_id", "updated_at"]
            ].to_numpy()
        manifest = pd.DataFrame(
            {
                "entity": ["orders"],
                # The file and sha256 that tests.quality.conftest's rows carry.
                "path": [frame["_source_file"].iloc[0]],
                "size_bytes": [1],
                "sha256": [frame["_sha256"].iloc[0]],
                "rows_read": [6],
                "rows_loaded": [6],
                "rows_quarantined": [0],
                "loaded_at": [pd.Timestamp.now()],
                "run_id": [context.run_id],
            }
        )
        with warehouse.connect() as con:
            con.execute("create schema if not exists raw")
            con.register("_batch", frame)
            con.register("_manifest", manifest)
            con.execute("create table if not exists raw.orders as select * from _batch limit 0")
            con.execute("insert into raw.orders select * from _batch")
            con.execute(
                "create table if not exists raw._file_manifest as select * from _manifest limit 0"
            )
            con.execute("insert into raw._file_manifest select * from _manifest")

    return raw_orders


@asset(deps=[AssetKey(["raw", "orders"])], partitions_def=AS_OF_PARTITIONS)
def downstream_of_orders() -> int:
    return 1


def _orders_check():
    return next(c for c in raw_quality_checks if ORDERS_CHECK in c.check_keys)


def test_checks_cover_every_entity_and_customer_360() -> None:
    keys = {k for c in raw_quality_checks for k in c.check_keys}
    assert keys == {AssetCheckKey(AssetKey(["raw", e]), f"gx_{e}") for e in ENTITIES}
    (c360,) = customer_360_quality_checks
    assert c360.check_keys == {AssetCheckKey(AssetKey(["customer_360"]), "gx_customer_360")}
    assert all(spec.blocking for c in [*raw_quality_checks, c360] for spec in c.check_specs)
    # Loadable in a Definitions with the warehouse resource.
    Definitions(
        asset_checks=[*raw_quality_checks, *customer_360_quality_checks],
        resources={"warehouse": Warehouse(path="unused.duckdb"), "run": RunContextResource()},
    )


@pytest.mark.parametrize(
    ("mode", "passed", "severity", "downstream_runs"),
    [
        ("bad", False, AssetCheckSeverity.ERROR, False),
        ("warn", False, AssetCheckSeverity.WARN, True),
        ("good", True, None, True),
    ],
)
def test_blocking_check_gates_downstream(
    tmp_path: Path, mode: str, passed: bool, severity, downstream_runs: bool
) -> None:
    db = tmp_path / "warehouse.duckdb"
    instance = DagsterInstance.ephemeral()
    result = materialize(
        [_stand_in_raw_orders(mode), downstream_of_orders, _orders_check()],
        resources={"warehouse": Warehouse(path=str(db)), "run": RunContextResource()},
        raise_on_error=False,
        partition_key=AS_OF.isoformat(),
        instance=instance,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "gx_orders"
    assert evaluation.passed is passed
    if severity is not None:
        assert evaluation.severity == severity
    materialized = {m.asset_key for m in result.get_asset_materialization_events()}
    assert (AssetKey(["downstream_of_orders"]) in materialized) is downstream_runs
    assert AssetKey(["raw", "orders"]) in materialized
    assert result.success is downstream_runs

    metadata = evaluation.metadata
    assert metadata["suite"].value == "orders"
    assert metadata["element_count"].value == 6
    assert metadata["data_docs"].value.endswith("index.html")
    con = duckdb.connect(str(db), read_only=True)
    try:
        (stored,) = con.execute(
            "select count(*) from quality.validation_results where run_id = ? and asset_key = 'raw/orders'",
            [result.run_id],
        ).fetchone()
    finally:
        con.close()
    assert stored == 14
    if mode == "bad":
        table = metadata["failures"].value
        assert "| ERROR | expect_column_values_to_be_in_set | status | 2 |" in table
        assert '"shipped"' in table
        assert "| ERROR | expect_column_values_to_be_between | amount_cny | 1 |" in table
        assert metadata["failed_errors"].value == 2
        # One sentence on the result and on the run: what failed, and what stays published.
        assert metadata["blocked"].value == (
            "orders GX suite failed on orders/orders_2026-11-22.csv: column values to be in set "
            "on status (33.3% of rows), column values to be between on amount_cny (16.7% of "
            "rows) — nothing was published (no snapshot exists yet)."
        )
        run = instance.get_run_by_id(result.run_id)
        assert run.tags["stratum/blocked"] == metadata["blocked"].value
    else:
        assert "blocked" not in metadata
        assert "stratum/blocked" not in instance.get_run_by_id(result.run_id).tags


def test_any_blocking_failure_gets_its_one_sentence(tmp_path, monkeypatch) -> None:
    from dagster import AssetCheckResult

    from pipelines.quality.checks import with_blocked_reason

    monkeypatch.setenv("STRATUM_DATA_DIR", str(tmp_path))
    unreadable = AssetCheckResult(
        passed=False, severity=AssetCheckSeverity.ERROR, description="orders/x.csv: line 3: cut"
    )
    blocked = with_blocked_reason(unreadable, "orders: orders/x.csv: line 3: cut")
    assert blocked.metadata["blocked"].value == (
        "orders: orders/x.csv: line 3: cut — nothing was published (no snapshot exists yet)."
    )
    warned = AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN)
    assert "blocked" not in (with_blocked_reason(warned, "x").metadata or {})
    assert with_blocked_reason(AssetCheckResult(passed=True), "x").metadata in ({}, None)
