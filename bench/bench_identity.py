"""Benchmark: identity matching (Splink on DuckDB) on 1,000,000 companies' CRM records.

Run: ``.venv/bin/python bench/bench_identity.py [--accounts N]``.

Step ``world`` (not the target): the generator's companies, CRM account records with the default
identity dirt (duplicates and look-alikes) and contacts, loaded as raw tables, then ``dbt build``
of the seeds and staging views. Steps ``match`` and ``rematch``: the matching asset's work,
``pipelines.identity.matching.match_accounts`` + ``persist`` (features in SQL, Splink training
and prediction, constrained clustering, the golden-id registry, review queue), on the first run
and again on the same data (ids must not move), each in its own process.

Target: matching within 10 minutes and 8 GB at 1M accounts on this machine (2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from _measure import REPO, print_table, report_step, run_step

AS_OF = date(2026, 11, 20)


def build_world(warehouse: str, n: int) -> dict:
    """Raw crm_accounts / crm_contacts for ``n`` companies, then dbt seeds + staging."""
    from pipelines import warehouse as wh
    from pipelines.generate.companies import build_companies
    from pipelines.generate.contacts import build_contacts
    from pipelines.generate.identity_dirt import DirtRates, add_lookalikes, spoil_contacts
    from pipelines.generate.lifecycle import simulate_lifecycle
    from pipelines.generate.records import build_account_records
    from pipelines.generate.world import _rng
    from tests.transform.raw_tables import append_rows, create_raw_tables

    seed, dirt = 7, DirtRates()
    co = build_companies(_rng(seed, "companies"), n)
    identity_rng = _rng(seed, "identity")
    add_lookalikes(identity_rng, co, dirt)
    life, _ = simulate_lifecycle(_rng(seed, "lifecycle"), co, 3 * 365)
    records = build_account_records(_rng(seed, "records"), co, life, AS_OF, dirt)
    contacts, first, count = build_contacts(_rng(seed, "contacts"), co, life, records, AS_OF)
    contacts = spoil_contacts(identity_rng, co, contacts, records, first, count)
    with wh.connection(warehouse) as con:
        create_raw_tables(con)
        append_rows(con, "crm_accounts", records.table)
        append_rows(con, "crm_contacts", contacts)
    dbt = Path(sys.executable).parent / "dbt"
    project = [
        "--project-dir",
        str(REPO / "dbt_project"),
        "--profiles-dir",
        str(REPO / "dbt_project"),
    ]
    scratch = Path(warehouse).parent
    proc = subprocess.run(
        [str(dbt), "build", "--select", "china_regions industry_map staging", "--indirect-selection",
         "buildable", "--target-path", str(scratch / "target"), "--log-path",
         str(scratch / "logs"), "--vars", f'{{"as_of_date": "{AS_OF.isoformat()}"}}', *project],
        env={**os.environ, "STRATUM_WAREHOUSE": warehouse},
        capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode:
        raise RuntimeError(proc.stdout[-3000:])
    return {"rows": len(records.table), "note": f"{len(contacts):,} contacts"}


def match(warehouse: str, run_id: str) -> dict:
    from pipelines import warehouse as wh
    from pipelines.identity.config import load_decisions, load_identity_config
    from pipelines.identity.matching import match_accounts, persist
    from pipelines.settings import config_dir

    config = load_identity_config(config_dir()).model
    decisions = load_decisions(config_dir()).model
    with wh.connection(warehouse, options={"memory_limit": "2GB"}) as con:
        outcome = match_accounts(con, config, decisions, AS_OF)
        written = persist(con, outcome, AS_OF, run_id)
        events = con.execute(
            "select event_type, count(*) from identity.identity_events where run_id = ? group by 1",
            [run_id],
        ).fetchall()
    stats = outcome.stats
    return {
        "rows": stats["records"],
        "note": (
            f"golden {stats['golden_accounts']:,}; scored pairs {stats['scored_pairs']:,}; "
            f"review {stats['review_pairs']:,}; registry written {written}; events {dict(events)}"
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.step is not None:  # child process: import first, time the work alone
        import splink  # noqa: F401

        import pipelines.identity.matching  # noqa: F401

        if args.step == "world":
            report_step(lambda: build_world(args.warehouse, args.accounts))
        else:
            report_step(lambda: match(args.warehouse, f"bench-{args.step}"))
        return 0

    root = Path(tempfile.mkdtemp(prefix="stratum_bench_identity_"))
    try:
        warehouse = str(root / "stratum.duckdb")
        rows = []
        for step in ("world", "match", "rematch"):
            r = run_step(
                Path(__file__),
                step,
                ["--warehouse", warehouse, "--accounts", str(args.accounts)],
                {"STRATUM_DATA_DIR": str(root)},
            )
            rows.append(r)
            print(f"{step}: {r.get('note', '')}", flush=True)
            if r["exit"]:
                break
        print(f"\nidentity matching at {args.accounts:,} companies")
        print_table(
            rows,
            [
                ("step", "step", ""),
                ("rows", "records", ",.0f"),
                ("seconds", "wall s", ".1f"),
                ("cpu_s", "CPU s", ".1f"),
                ("peak_rss_mb", "peak RSS MB", ".0f"),
                ("baseline_mb", "imports MB", ".0f"),
            ],
        )
        print("target: match within 600 s and 8,000 MB at 1M accounts")
        return 1 if any(r["exit"] for r in rows) else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
