"""The floor: the least a tiering run can cost on these landing files, as one DuckDB script.

Run: ``.venv/bin/python bench/floor.py --landing DIR --out DIR [--as-of YYYY-MM-DD]``.

It does what any tiering of these files must do, the plainest way: load every landing file
of every entity into a DuckDB table (CSV/TSV auto-detected, a non-UTF-8 CSV transcoded first,
Parquet, JSON Lines, XLSX through pandas' calamine reader), aggregate the orders per account,
class the accounts ABC by their share of 12-month revenue (80% / 95%), give a toy tier and
write it as Parquet. No validation, quarantine, history, identity, scores or publishing: the
benchmark (``python -m bench``) reports the real job as a multiple of this.

Of the project it uses only the connection factory (``pipelines.warehouse``: the same DuckDB
memory cap as the pipeline, so both spill alike), so it pays none of the project's start-up
cost either.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from pipelines import warehouse as wh

RESULT_PREFIX = "FLOOR_RESULT "
_CSV = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return next((s for s in _CSV if name.endswith(s)), path.suffix.lower())


def _utf8_copy(path: Path, tmp: Path) -> Path:
    """``path`` itself if it is UTF-8, else a UTF-8 copy (GBK family assumed), streamed."""
    with path.open("rb") as fh:
        head = fh.read(1 << 20)
    try:
        head.decode("utf-8")
        return path
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:  # a character cut at the 1 MB boundary
            return path
    target = tmp / (path.stem + ".utf8.csv")
    with path.open("rb") as src, target.open("w", encoding="utf-8") as dst:
        decoder = codecs.getincrementaldecoder("gb18030")()
        while block := src.read(1 << 22):
            dst.write(decoder.decode(block))
        dst.write(decoder.decode(b"", final=True))
    return target


def _relation(con: duckdb.DuckDBPyConnection, path: Path, tmp: Path, n: int) -> str:
    """A SQL relation reading one landing file."""
    kind = _suffix(path)
    if kind in _CSV:
        source = _utf8_copy(path, tmp) if not kind.endswith(".gz") else path
        sep = "\\t" if ".tsv" in kind else ","
        return f"read_csv('{source}', header = true, delim = E'{sep}')"
    if kind == ".parquet":
        return f"read_parquet('{path}')"
    if kind in (".jsonl", ".ndjson"):
        return f"read_json('{path}', format = 'newline_delimited')"
    if kind == ".xlsx":
        import pandas as pd

        con.register(f"xlsx_{n}", pd.read_excel(path, engine="calamine", dtype=str))
        return f"xlsx_{n}"
    raise ValueError(f"{path}: not a landing format the floor reads")


def load(con: duckdb.DuckDBPyConnection, landing: Path, tmp: Path) -> dict[str, int]:
    """One table per entity folder, every file of it appended; row counts."""
    counts = {}
    n = 0
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        parts = []
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                parts.append(f"select * from {_relation(con, path, tmp, n)}")
                n += 1
        if parts:
            con.execute(f'create table "{folder.name}" as ' + " union all by name ".join(parts))
            counts[folder.name] = con.execute(f'select count(*) from "{folder.name}"').fetchall()[
                0
            ][0]
    return counts


TIERS_SQL = """
create table account_tiers as
with latest_orders as (
    select * from orders
    qualify row_number() over (partition by order_id order by updated_at desc) = 1
), per_account as (
    select
        account_id,
        count(*) as orders,
        sum(amount_cny - coalesce(refund_amount_cny, 0)) as revenue,
        sum(case when order_date > $as_of::date - interval 365 day
                 then amount_cny - coalesce(refund_amount_cny, 0) else 0 end) as revenue_12m,
        max(order_date) as last_order_date
    from latest_orders
    where status = 'completed' and order_date <= $as_of::date
    group by account_id
), accounts as (
    select account_id, industry, province from crm_accounts
    qualify row_number() over (partition by account_id order by updated_at desc) = 1
), ranked as (
    select
        a.*, p.orders, p.revenue, p.revenue_12m, p.last_order_date,
        sum(coalesce(p.revenue_12m, 0)) over (order by p.revenue_12m desc nulls last, a.account_id
            rows unbounded preceding) / nullif(sum(coalesce(p.revenue_12m, 0)) over (), 0)
            as revenue_share_cumulative
    from accounts as a
    left join per_account as p on a.account_id = p.account_id
)
select
    *,
    case when coalesce(revenue_12m, 0) <= 0 then 'none'
         when revenue_share_cumulative <= 0.80 then 'A'
         when revenue_share_cumulative <= 0.95 then 'B' else 'C' end as abc_class,
    case when coalesce(revenue_12m, 0) <= 0 then 'P'
         when revenue_share_cumulative <= 0.80
              and last_order_date > $as_of::date - interval 90 day then 'A'
         when revenue_share_cumulative <= 0.95 then 'B' else 'C' end as tier
from ranked
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 6, 30))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / "floor.duckdb"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="stratum_floor_") as tmp,
        wh.connection(db) as con,
    ):
        counts = load(con, args.landing, Path(tmp))
        loaded = time.perf_counter()
        con.execute(TIERS_SQL, {"as_of": args.as_of.isoformat()})
        out = args.out / "account_tiers.parquet"
        con.execute(f"copy account_tiers to '{out}' (format parquet)")
        tiers = dict(con.execute("select tier, count(*) from account_tiers group by 1").fetchall())
    print(f"loaded {sum(counts.values()):,} rows in {loaded - started:.1f}s: {counts}")
    print(f"tiers {tiers}; total {time.perf_counter() - started:.1f}s")
    summary = {"landing_rows": counts, "load_s": round(loaded - started, 2), "tiers": tiers}
    print(RESULT_PREFIX + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
