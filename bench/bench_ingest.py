"""Benchmark: raw loading of a 20M-row orders CSV and a 1M-row GBK risk CSV.

Run: ``.venv/bin/python bench/bench_ingest.py [--accounts N] [--orders N] [--risk N]``.

Writes landing files with DuckDB ``COPY`` from ``range()`` queries (the GBK file is transcoded
from a UTF-8 copy in 1 MB chunks): ``crm_accounts`` (1M rows, UTF-8), ``orders`` (20M rows,
UTF-8, ~1.3 GB) and ``risk`` (1M rows, GBK with Chinese company names, as the risk provider
exports it). Then, each in its own child process, ``pipelines.ingest.loader.load_entity`` loads
one entity into a temp warehouse - the call the ``raw/<entity>`` assets make - and reports wall
time, rows loaded / quarantined and peak RSS.

Target: one file at a time, streamed by DuckDB (CSV -> VARCHAR temp table -> validated insert):
memory bounded by DuckDB's buffer manager, not by pandas; 20M orders in minutes, not hours.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path

import duckdb
from _measure import print_table, report_step, run_step

from pipelines import warehouse as wh

AS_OF = date(2025, 6, 30)
_CHUNK = 1 << 20
# u(i, salt): a uniform number in [0, 1) derived from a row number, in SQL.
_U = "((hash({i}, {salt}) % 1000000007) / 1000000007.0)"


def u(i: str, salt: int) -> str:
    """SQL for a deterministic uniform [0, 1) value of expression ``i``."""
    return _U.format(i=i, salt=salt)


def write_accounts(path: Path, n: int) -> None:
    """``crm_accounts``: ids ACC0000000.., Chinese names, one file."""
    duckdb.sql(f"""
        copy (
            select
                'ACC' || lpad(i::varchar, 7, '0') as account_id,
                '上海远海' || i::varchar || '科技有限公司' as account_name,
                null::varchar as uscc,
                (['saas', '物流行业', '专业服务', 'ict'])[1 + floor(4 * {u("i", 1)})::int] as industry,
                floor(exp(9 * {u("i", 2)}))::bigint as employee_count,
                round(1e7 * {u("i", 3)}, 2) as annual_revenue_cny,
                '上海市' as province,
                '上海市' as city,
                null::varchar as parent_account_id,
                '华东中小企业部' as owner_team,
                timestamp '2020-01-01 09:00:00' + to_seconds(i) as created_at,
                timestamp '2024-01-01 09:00:00' + to_seconds(i) as updated_at,
                'false' as is_deleted
            from range({n}) as t(i)
        ) to '{path}' (header, delimiter ',')
    """)


def write_orders(path: Path, n: int, n_accounts: int) -> None:
    """``orders``: 20M rows over three years; ~3% cancelled, ~6% (partially) refunded."""
    duckdb.sql(f"""
        copy (
            with o as (
                select
                    i,
                    floor({n_accounts} * pow({u("i", 11)}, 2))::bigint as a,
                    {u("i", 12)} as s,
                    round(exp(6 + 5 * {u("i", 13)}), 2) as amount
                from range({n}) as t(i)
            )
            select
                'ORD' || lpad(i::varchar, 9, '0') as order_id,
                'ACC' || lpad(a::varchar, 7, '0') as account_id,
                date '{AS_OF}' - floor(1095 * {u("i", 14)})::int as order_date,
                case when s < 0.03 then 'cancelled' when s < 0.06 then 'refunded'
                     when s < 0.09 then 'partially_refunded' else 'completed' end as status,
                amount as amount_cny,
                case when s < 0.03 then null when s < 0.06 then amount
                     when s < 0.09 then round(amount * 0.3, 2) else 0 end as refund_amount_cny,
                (['software', 'hardware', 'services'])[1 + floor(3 * {u("i", 15)})::int]
                    as product_line,
                timestamp '{AS_OF} 08:00:00' - to_seconds(floor(86400 * 1095 * {u("i", 14)})::bigint)
                    as updated_at
            from o
        ) to '{path}' (header, delimiter ',')
    """)


def write_risk_gbk(path: Path, n: int) -> None:
    """``risk`` as the provider sends it: GBK, 是/否 booleans, an extra company_name column."""
    utf8 = path.with_suffix(".utf8.tmp")
    duckdb.sql(f"""
        copy (
            select
                '91310000' || lpad(i::varchar, 10, '0') as uscc,
                date '{AS_OF}' - floor(700 * {u("i", 21)})::int as as_of_date,
                (['AAA', 'AA', 'A', 'BBB', 'BB', 'B', 'CCC', 'CC', 'C'])[1 + floor(9 * {u("i", 22)})::int]
                    as credit_rating,
                round(100000 * {u("i", 23)}, 2) as overdue_amount_cny,
                floor(3 * {u("i", 24)})::int as lawsuit_count,
                case when {u("i", 25)} < 0.02 then '是' else '否' end as abnormal_operation,
                '绵阳青盛商务咨询' || i::varchar || '有限公司' as company_name
            from range({n}) as t(i)
        ) to '{utf8}' (header, delimiter ',')
    """)
    with utf8.open("r", encoding="utf-8", newline="") as src, path.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            dst.write(chunk.encode("gbk"))
    utf8.unlink()


def load(warehouse: str, landing: str, entity: str, memory_limit: str) -> dict:
    """In a child process: ``load_entity`` for one entity, as the raw asset calls it."""
    from pipelines.config import load_stratum_config
    from pipelines.ingest.loader import load_entity

    source = load_stratum_config().source_settings[entity]
    con = wh.connect(warehouse)
    try:
        if memory_limit:
            # DuckDB's default is 80% of RAM; a cap makes it spill temp tables to disk instead.
            con.execute(f"set memory_limit = '{memory_limit}'")
        # Loaded the evening of the as-of date: every generated date is in the past.
        load_time = datetime.combine(AS_OF, clock_time(20, 0))
        report = load_entity(con, entity, Path(landing), f"bench-{entity}", load_time, source)
    finally:
        con.close()
    failed = [f.error for f in report.failed]
    encodings = sorted({f.encoding for f in report.loaded if f.encoding})
    return {
        "rows": report.rows_loaded,
        "quarantined": report.rows_quarantined,
        "note": f"encoding {','.join(encodings)}" + (f"; failed {failed}" if failed else ""),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=20_000_000)
    parser.add_argument("--risk", type=int, default=1_000_000)
    parser.add_argument(
        "--memory-limit",
        default="4GB",
        help="DuckDB memory_limit for the loading connection ('' = DuckDB's default, 80%% of RAM)",
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    parser.add_argument("--landing", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.step:  # child process
        import pipelines.ingest.loader  # noqa: F401

        report_step(lambda: load(args.warehouse, args.landing, args.step, args.memory_limit))
        return 0

    root = Path(tempfile.mkdtemp(prefix="stratum_bench_ingest_"))
    try:
        landing = root / "landing"
        files = {
            "crm_accounts": landing / "crm_accounts" / "crm_accounts_bench.csv",
            "orders": landing / "orders" / "orders_bench.csv",
            "risk": landing / "risk" / "risk_bench_gbk.csv",
        }
        for path in files.values():
            path.parent.mkdir(parents=True)
        t = time.perf_counter()
        write_accounts(files["crm_accounts"], args.accounts)
        write_orders(files["orders"], args.orders, args.accounts)
        write_risk_gbk(files["risk"], args.risk)
        sizes = {e: p.stat().st_size / 1e6 for e, p in files.items()}
        print(
            f"landing files written in {time.perf_counter() - t:.1f}s: "
            + ", ".join(f"{e} {mb:,.0f} MB" for e, mb in sizes.items()),
            flush=True,
        )
        warehouse = root / "warehouse" / "stratum.duckdb"
        warehouse.parent.mkdir()
        env = {"STRATUM_DATA_DIR": str(root)}
        rows = []
        # Accounts first: orders check account_id against every loaded account.
        for entity in ("crm_accounts", "orders", "risk"):
            r = run_step(
                Path(__file__),
                entity,
                [
                    "--warehouse",
                    str(warehouse),
                    "--landing",
                    str(landing),
                    "--memory-limit",
                    args.memory_limit,
                ],  # fmt: skip
                env,
            )
            r["file_mb"] = sizes[entity]
            rows.append(r)
            print(f"{entity}: {r.get('seconds', float('nan')):.1f}s", flush=True)
        print(
            f"\ningest ({args.orders:,} orders, {args.accounts:,} accounts, {args.risk:,} risk; "
            f"DuckDB memory_limit {args.memory_limit or 'default'})"
        )
        print_table(
            rows,
            [
                ("step", "entity", ""),
                ("file_mb", "file MB", ".0f"),
                ("seconds", "seconds", ".1f"),
                ("cpu_s", "CPU s", ".1f"),
                ("rows", "loaded", ",d"),
                ("quarantined", "quarantined", ",d"),
                ("peak_rss_mb", "peak RSS MB", ".0f"),
                ("note", "note", ""),
            ],
        )
        print("target: bounded memory (DuckDB streams the file), 20M orders in a few minutes")
        return 1 if any(r["exit"] for r in rows) else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
