"""Command line: ``python -m pipelines.generate --accounts 5000 --seed 7 --out data/landing``."""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from pipelines.generate.identity_dirt import DirtRates
from pipelines.generate.world import generate_world
from pipelines.generate.writers import write_landing
from pipelines.partitions import latest_complete_as_of


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.generate",
        description="Generate a sample B2B market as landing files plus ground truth.",
    )
    parser.add_argument("--accounts", type=int, default=5000, help="number of true companies")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("data/landing"), help="landing directory")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        help="YYYY-MM-DD (default: the last complete business day, as make run)",
    )
    parser.add_argument(
        "--ground-truth", type=Path, default=None, help="default: <out>/../ground_truth"
    )
    parser.add_argument("--years", type=int, default=3, help="years of history")
    parser.add_argument(
        "--dirt",
        choices=["default", "dirty"],
        default="default",
        help="rates of duplicate records and look-alike companies (dirty: ~15%% duplicated)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, list[Path]]:
    """Generate and write a world; print what was written."""
    args = _parse_args(argv)
    as_of = args.as_of or latest_complete_as_of()
    ground_truth = args.ground_truth or args.out.parent / "ground_truth"
    started = time.perf_counter()
    dirt = DirtRates.dirty() if args.dirt == "dirty" else DirtRates()
    world = generate_world(args.accounts, args.seed, as_of, years=args.years, dirt=dirt)
    written = write_landing(world, args.out, ground_truth)
    elapsed = time.perf_counter() - started

    rows = {name: len(frame) for name, frame in world.landing_frames().items()}
    print(
        f"sample world: {args.accounts} companies, seed {args.seed}, as of {as_of}, {args.years}y"
    )
    for entity, paths in written.items():
        count = rows.get(entity, len(world.truth_accounts) if entity == "ground_truth" else 0)
        names = ", ".join(str(p) for p in paths)
        print(f"  {entity:<15} {count:>10,} rows  {names}")
    print(f"done in {elapsed:.1f}s")
    return written


if __name__ == "__main__":
    main()
