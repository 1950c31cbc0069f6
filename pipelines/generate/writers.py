"""Write a generated world as landing files (every format the contract accepts) + ground truth.

Files are byte-for-byte reproducible for a given world: the ingest recognises files by sha256,
so regenerating the same world must not look like new deliveries.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook

from pipelines import warehouse as wh
from pipelines.generate.world import World

PARQUET_ROW_GROUP = 1_000_000
XLSX_MAX_ROWS = 1_000_000  # Excel's sheet limit is 1,048,576 rows; leave room
_TS_FORMAT = "%Y-%m-%d %H:%M:%S"
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _entity_path(landing_dir: Path, entity: str, stem: str, ext: str) -> Path:
    folder = landing_dir / entity
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{stem}.{ext}"


def _bool_text(values: pd.Series, true: str, false: str) -> pd.Series:
    return values.map({True: true, False: false}).astype(object)


def _write_csv(df: pd.DataFrame, path: Path, encoding: str) -> None:
    # Explicit line terminator and formats: the same frame always gives the same bytes.
    df.to_csv(
        path,
        index=False,
        encoding=encoding,
        date_format=_TS_FORMAT,
        float_format="%.2f",
        lineterminator="\n",
    )


def write_accounts(df: pd.DataFrame, path: Path) -> None:
    """crm_accounts: CSV, UTF-8 with BOM (what Excel-minded CRMs export)."""
    out = df.copy()
    out["is_deleted"] = _bool_text(out["is_deleted"], "true", "false")
    _write_csv(out, path, "utf-8-sig")


def write_contacts(df: pd.DataFrame, path: Path) -> None:
    """crm_contacts: CSV, UTF-8 without BOM; booleans as 1/0."""
    out = df.copy()
    out["opt_out"] = _bool_text(out["opt_out"], "1", "0")
    out["is_deleted"] = _bool_text(out["is_deleted"], "true", "false")
    _write_csv(out, path, "utf-8")


def write_risk(df: pd.DataFrame, path: Path) -> None:
    """risk: CSV encoded in GBK, dates as YYYY-MM-DD, booleans as 是/否 (as providers send)."""
    out = df.copy()
    out["as_of_date"] = pd.to_datetime(out["as_of_date"]).dt.strftime("%Y-%m-%d")
    out["abnormal_operation"] = _bool_text(out["abnormal_operation"], "是", "否")
    _write_csv(out, path, "gbk")


def write_leads(df: pd.DataFrame, path: Path) -> None:
    """crm_leads: JSON Lines, UTF-8 unescaped, timestamps in ISO 8601 with a 'T'."""
    out = df.copy()
    for col in ("created_at", "converted_at", "updated_at"):
        ts = pd.to_datetime(out[col])
        out[col] = ts.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object).where(ts.notna(), None)
    out = out.astype({c: object for c in out.columns if out[c].dtype != bool})
    with wh.connection(":memory:") as con:
        con.register("leads_frame", out)
        target = str(path).replace("'", "''")
        con.execute(f"copy (select * from leads_frame) to '{target}' (format json)")


def _arrow_table(df: pd.DataFrame, types: dict[str, pa.DataType]) -> pa.Table:
    arrays = []
    for name in df.columns:
        col = df[name]
        typ = types[name]
        if pa.types.is_date32(typ):
            values = pd.to_datetime(col).to_numpy().astype("datetime64[D]")
            arrays.append(pa.array(values, type=typ))
        elif pa.types.is_timestamp(typ):
            arrays.append(
                pa.array(pd.to_datetime(col).to_numpy().astype("datetime64[us]"), type=typ)
            )
        elif pa.types.is_string(typ):
            # Arrow-backed string columns convert without a Python object per row.
            arrays.append(pa.array(col, type=typ, from_pandas=True))
        else:
            arrays.append(pa.array(col.to_numpy(), type=typ, from_pandas=True))
    return pa.Table.from_arrays(arrays, names=list(df.columns))


def _write_parquet(df: pd.DataFrame, types: dict[str, pa.DataType], path: Path) -> None:
    schema = pa.schema([(name, types[name]) for name in df.columns])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for lo in range(0, max(len(df), 1), PARQUET_ROW_GROUP):
            writer.write_table(_arrow_table(df.iloc[lo : lo + PARQUET_ROW_GROUP], types))


_ORDER_TYPES = {
    "order_id": pa.string(),
    "account_id": pa.string(),
    "order_date": pa.date32(),
    "status": pa.string(),
    "amount_cny": pa.float64(),
    "refund_amount_cny": pa.float64(),
    "product_line": pa.string(),
    "updated_at": pa.timestamp("us"),
}
_ACTIVITY_TYPES = {
    "activity_id": pa.string(),
    "account_id": pa.string(),
    "contact_id": pa.string(),
    "activity_type": pa.string(),
    "occurred_at": pa.timestamp("us"),
    "updated_at": pa.timestamp("us"),
    "is_deleted": pa.bool_(),
}


def write_orders(df: pd.DataFrame, folder: Path) -> list[Path]:
    """orders: Parquet, one file per order year, like periodic exports."""
    folder.mkdir(parents=True, exist_ok=True)
    years = pd.to_datetime(df["order_date"]).dt.year.to_numpy()
    paths = []
    for year in np.unique(years):
        path = folder / f"orders_{int(year)}.parquet"
        _write_parquet(df[years == year], _ORDER_TYPES, path)
        paths.append(path)
    return paths


def write_activities(df: pd.DataFrame, path: Path) -> None:
    """crm_activities: one Parquet file."""
    _write_parquet(df, _ACTIVITY_TYPES, path)


def _excel_columns(df: pd.DataFrame) -> list[list[object]]:
    """Columns as lists of plain Python values (date, int, str, None) that openpyxl writes."""
    columns = []
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            values = [d.date() if pd.notna(d) else None for d in col]
        else:
            values = col.astype(object).where(col.notna(), None).tolist()
        columns.append(values)
    return columns


def _freeze_zip(path: Path, when: datetime) -> None:
    """Rewrite an .xlsx with fixed entry times and document dates, so bytes are reproducible."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries:
            if name == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rf"\g<1>{stamp}\g<2>",
                    text,
                )
                data = text.encode("utf-8")
            dst.writestr(
                zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME), data, zipfile.ZIP_DEFLATED
            )
    path.write_bytes(buffer.getvalue())


def write_surveys(df: pd.DataFrame, landing_dir: Path, as_of: date) -> list[Path]:
    """surveys: XLSX (first sheet, header row), split into parts past Excel's row limit."""
    paths = []
    for part, lo in enumerate(range(0, max(len(df), 1), XLSX_MAX_ROWS)):
        stem = f"surveys_{as_of.isoformat()}" + (f"_part{part + 1}" if part else "")
        path = _entity_path(landing_dir, "surveys", stem, "xlsx")
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("surveys")
        ws.append(list(df.columns))
        for row in zip(*_excel_columns(df.iloc[lo : lo + XLSX_MAX_ROWS]), strict=True):
            ws.append(row)
        fixed = datetime(as_of.year, as_of.month, as_of.day)
        wb.properties.created = fixed
        wb.save(path)
        _freeze_zip(path, fixed)
        paths.append(path)
    return paths


def write_ground_truth(world: World, ground_truth_dir: Path) -> list[Path]:
    """Ground truth as Parquet, outside the landing zone (the pipeline never reads it)."""
    ground_truth_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in (("accounts", world.truth_accounts), ("leads", world.truth_leads)):
        path = ground_truth_dir / f"{name}.parquet"
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table.replace_schema_metadata(None), path, compression="zstd")
        paths.append(path)
    return paths


def write_unmatched_orders(world: World, path: Path) -> None:
    """A small order-system export whose buyers are not in the CRM (about 1 order in 2,000).

    Real order systems see walk-in or not-yet-synced buyers; the pipeline must quarantine these
    rows with a reason rather than drop them, so the sample world carries a few. They are not
    part of the ground truth: no simulated company placed them.
    """
    rng = np.random.default_rng([world.seed, 2000])
    n = max(3, len(world.orders) // 2000)
    days = rng.integers(1, 365, size=n)
    order_dates = [world.as_of - timedelta(days=int(d)) for d in days]
    frame = pd.DataFrame(
        {
            "order_id": [f"EXT{world.seed:04d}{i:06d}" for i in range(n)],
            "account_id": [f"EXT-BUYER-{int(b):05d}" for b in rng.integers(0, 99999, size=n)],
            "order_date": [d.isoformat() for d in order_dates],
            "status": "completed",
            "amount_cny": np.round(rng.lognormal(9.0, 1.0, size=n), 2),
            "refund_amount_cny": 0.0,
            "product_line": "零售订单",
            "updated_at": [f"{d.isoformat()} 10:00:00" for d in order_dates],
        }
    )
    _write_csv(frame, path, "utf-8")


def write_landing(world: World, landing_dir: Path, ground_truth_dir: Path) -> dict[str, list[Path]]:
    """Write every landing entity under ``landing_dir/<entity>/`` and the ground truth.

    Returns the written paths per entity (plus ``ground_truth``). Ground truth must live outside
    the landing zone so the pipeline cannot see it.
    """
    landing_dir = Path(landing_dir)
    ground_truth_dir = Path(ground_truth_dir)
    if ground_truth_dir.resolve().is_relative_to(landing_dir.resolve()):
        raise ValueError("ground truth must not be written inside the landing directory")
    stamp = world.as_of.isoformat()
    written: dict[str, list[Path]] = {}

    path = _entity_path(landing_dir, "crm_accounts", f"crm_accounts_{stamp}", "csv")
    write_accounts(world.crm_accounts, path)
    written["crm_accounts"] = [path]
    path = _entity_path(landing_dir, "crm_contacts", f"crm_contacts_{stamp}", "csv")
    write_contacts(world.crm_contacts, path)
    written["crm_contacts"] = [path]
    path = _entity_path(landing_dir, "crm_leads", f"crm_leads_{stamp}", "jsonl")
    write_leads(world.crm_leads, path)
    written["crm_leads"] = [path]
    path = _entity_path(landing_dir, "crm_activities", f"crm_activities_{stamp}", "parquet")
    write_activities(world.crm_activities, path)
    written["crm_activities"] = [path]
    written["orders"] = write_orders(world.orders, landing_dir / "orders")
    path = _entity_path(landing_dir, "orders", f"orders_unmatched_{stamp}", "csv")
    write_unmatched_orders(world, path)
    written["orders"].append(path)
    path = _entity_path(landing_dir, "risk", f"risk_{stamp}", "csv")
    write_risk(world.risk, path)
    written["risk"] = [path]
    written["surveys"] = write_surveys(world.surveys, landing_dir, world.as_of)
    written["ground_truth"] = write_ground_truth(world, ground_truth_dir)
    return written
