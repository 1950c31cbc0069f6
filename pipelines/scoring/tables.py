"""What every score asset does the same way: read features, stamp and write a scores table,
report the basics. Plain functions over a DuckDB connection (no SQL here: see
:mod:`pipelines.warehouse`)."""

from datetime import date

import duckdb
import pandas as pd
from dagster import AssetKey, MetadataValue, asset

from pipelines import warehouse as wh
from pipelines.engine import read_model
from pipelines.partitions import AS_OF_PARTITIONS
from pipelines.run_context import RunContext
from pipelines.scoring.features import ACCOUNT_FEATURES

FEATURES_KEY = AssetKey(["account_features"])
GROUP = "scoring"


def read_features(con: duckdb.DuckDBPyConnection, columns: list[str]) -> pd.DataFrame:
    """``columns`` of features.account_features, one row per account, ordered by id, from the
    engine that built it (on Spark through Arrow: :func:`pipelines.engine.read_model`)."""
    return read_model(con, ACCOUNT_FEATURES, columns)


def stamped(
    df: pd.DataFrame, as_of: date, rules_version: str, model_version: str | None = None
) -> pd.DataFrame:
    """``df`` with the run date second and the versions last."""
    out = df.copy()
    out.insert(1, "as_of_date", pd.Timestamp(as_of).date())
    out["rules_version"] = rules_version
    if model_version is not None:
        out["model_version"] = model_version
    return out


def write_scores(
    con: duckdb.DuckDBPyConnection,
    name: str,
    df: pd.DataFrame,
    ctx: RunContext,
    rules: str,
    model_version: str | None = None,
) -> None:
    """Replace ``scores.<name>`` with this run's scores (``rules``: the config file's name)."""
    version = ctx.config.rules_version_of(rules)
    wh.replace_table(con, f"scores.{name}", stamped(df, ctx.as_of, version, model_version))


def base_metadata(df: pd.DataFrame, rules_version: str, **extra) -> dict:
    """Row count and rules version, plus the asset's own entries."""
    return {
        "row_count": MetadataValue.int(len(df)),
        "rules_version": MetadataValue.text(rules_version),
        **extra,
    }


def score_asset(name: str, description: str, deps=(FEATURES_KEY,)):
    """``@asset`` with the scores' common settings."""
    return asset(
        key=["scores", name],
        group_name=GROUP,
        partitions_def=AS_OF_PARTITIONS,
        deps=list(deps),
        kinds={"python", "duckdb"},
        description=description,
    )
