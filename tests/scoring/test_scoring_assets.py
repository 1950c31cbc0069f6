"""The score assets and the account_scores dbt model on a generated world (built up to the
feature layer once per session, copied here): contracts, metadata, reruns, "no data".

How well the scores track the generator's truth is measured on the integration world
(tests/integration/test_integration_truth.py).
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml
from dagster import AssetKey, DagsterInstance, materialize

from pipelines.contracts import model_columns
from pipelines.resources import Warehouse
from pipelines.run_context import RunContextResource
from pipelines.scoring.assets import scoring_assets
from pipelines.transform.assets import dbt_resource, dbt_score_models
from tests.config_files import CONFIG_DIR
from tests.conftest import built_world, query

ACCOUNTS, SEED = 400, 7
SCORES = ["rfm", "abc", "clusters", "behaviour", "fit", "clv", "risk", "predictions"]


def _config(tmp_path) -> str:
    """The shipped configuration with a lighter clustering so the test stays quick."""
    root = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, root)
    target = root / "scoring"
    clus = yaml.safe_load((target / "clustering.yaml").read_text())
    clus.update(k_min=3, k_max=5, fit_sample_size=1000, silhouette_sample_size=800)
    (target / "clustering.yaml").write_text(yaml.safe_dump(clus, allow_unicode=True))
    return str(root)


def _materialize(world, config_dir, selection=None):
    resources = {"warehouse": Warehouse(), "run": RunContextResource(), "dbt": dbt_resource()}
    with pytest.MonkeyPatch.context() as mp, DagsterInstance.ephemeral() as instance:
        mp.setenv("STRATUM_DATA_DIR", str(world.data_dir))
        mp.setenv("STRATUM_CONFIG_DIR", config_dir)
        # A clean code version whatever the checkout: stored trainings may be reused.
        mp.setenv("STRATUM_CODE_VERSION", "test")
        return materialize(
            [*scoring_assets, dbt_score_models],
            resources=resources,
            selection=selection,
            partition_key=world.as_of.isoformat(),
            instance=instance,
        )


def _query(world, sql: str) -> pd.DataFrame:
    return query(world.data_dir / "warehouse" / "stratum.duckdb", sql)


@pytest.fixture(scope="module")
def scored(tmp_path_factory, dbt_manifest):
    tmp = tmp_path_factory.mktemp("scoring")
    world = built_world(tmp, ACCOUNTS, SEED)
    config_dir = _config(tmp)
    first = _materialize(world, config_dir)
    before = _score_tables(world)
    # A rerun of unchanged data: the same scores, and cluster ids keep their meaning.
    second = _materialize(world, config_dir)
    return world, first, second, before


def _score_tables(world) -> dict[str, pd.DataFrame]:
    """Every score table and account_scores, in a fixed row order."""
    return {
        t: _query(world, f"select * from scores.{t} order by golden_account_id")
        for t in [*SCORES, "account_scores"]
    }


def _meta(result, key):
    mats = [e.materialization for e in result.get_asset_materialization_events()]
    return next(m.metadata for m in mats if m.asset_key == AssetKey(key))


def test_account_scores_is_the_contract_one_row_per_account(scored):
    world, first, _, _ = scored
    assert first.success
    df = _query(world, "select * from scores.account_scores")
    features = _query(
        world, "select golden_account_id, has_paid_order from features.account_features"
    )
    assert list(df.columns) == [c.name for c in model_columns("account_scores")]
    assert sorted(df["golden_account_id"]) == sorted(features["golden_account_id"])
    assert df["clv_percentile"].between(0, 1).all()
    assert df["risk_level"].isin(["low", "medium", "high", "stale", "unknown"]).all()
    assert (df.loc[~df["has_paid_order"], "rfm_segment"] == "No purchase").all()
    assert df["score_reasons"].str.len().gt(20).all()
    (versions,) = df["model_version"].unique()
    (predictions_version,) = _query(world, "select distinct model_version from scores.predictions")[
        "model_version"
    ]
    assert versions.startswith("clusters=kmeans-k") and ";clv=bgnbd-gg-20261120-" in versions
    assert versions.endswith(f";predictions={predictions_version}")
    # Conversion is scored for prospects, churn and expected value for paying accounts.
    paying, prospects = df[df["has_paid_order"]], df[~df["has_paid_order"]]
    assert prospects["conversion_probability"].between(0, 1).all()
    assert set(prospects["conversion_source"]) <= {"base_rate", "has_open_lead", "hgb_conversion"}
    assert paying["conversion_probability"].isna().all()
    # Its reason names the probability and the winner, and says when the naive baseline stands
    # in because the history is too short for a contest (as on this 400-account world); paying
    # accounts are not prospects.
    card = json.loads(
        (world.data_dir / "models" / "predictions" / predictions_version / "card.json").read_text()
    )
    naive = "; too little history for a contest, naive baseline"
    expected = (
        "conversion within 12m "
        + (prospects["conversion_probability"] * 100).round(1).map("{:.1f}%".format)
        + " ("
        + prospects["conversion_source"]
        + (naive if card["targets"]["conversion"]["note"] else "")
        + ")"
    )
    assert prospects["conversion_reason"].tolist() == expected.tolist()
    assert set(paying["conversion_reason"]) == {"not a prospect: has a paid order"}
    assert paying["churn_risk"].between(0, 1).all() and prospects["churn_risk"].isna().all()
    assert (paying["expected_value_12m"] >= 0).all() and prospects[
        "expected_value_12m"
    ].isna().all()


def test_every_score_asset_reports_rows_versions_and_a_chart(scored):
    world, first, _, _ = scored
    accounts = len(_query(world, "select golden_account_id from features.account_features"))
    for key in SCORES:
        meta = _meta(first, ["scores", key])
        assert meta["row_count"].value == accounts, key
        assert meta["rules_version"].value.startswith(("1.0+", "1.1+"))
        assert any("data:image/png;base64," in str(v.value) for v in meta.values()), key
    assert 0 < _meta(first, ["scores", "abc"])["gini"].value < 1


def test_the_model_contest_is_recorded_in_the_warehouse_the_card_and_metadata(scored):
    world, first, _, _ = scored
    contest = _query(world, "select * from scores.model_contest order by target, candidate")
    assert set(contest["target"]) == {"value", "churn", "conversion"}
    (version,) = contest["model_version"].unique()
    card = json.loads(
        (world.data_dir / "models" / "predictions" / version / "card.json").read_text()
    )
    for target, rows in contest.groupby("target"):
        assert rows["winner"].sum() == 1, target
        entry = card["targets"][target]
        assert entry["winner"] == rows.loc[rows["winner"], "candidate"].item()
        assert [c["candidate"] for c in entry["contest"]] == sorted(
            rows["candidate"], key=[c["candidate"] for c in entry["contest"]].index
        )
    # The naive baseline always takes part (alone when the history is too short for more).
    naive = {
        "value": "trailing_revenue",
        "churn": "days_since_last_order",
        "conversion": "base_rate",
    }
    for target, name in naive.items():
        assert name in set(contest.loc[contest["target"] == target, "candidate"])
    meta = _meta(first, ["scores", "predictions"])
    assert meta["model_version"].value == version
    assert "| candidate |" in meta["churn_contest"].value
    # The drift shift carried forward is on the card and in the metadata (churn only, bounded).
    assert card["max_drift_logit"] == {"churn": 1.0}
    assert card["targets"]["conversion"]["drift_logit"] == 0.0
    churn_shift = card["targets"]["churn"]["drift_logit"]
    assert abs(churn_shift) <= 1.0 and meta["churn_drift_logit"].value == churn_shift


def test_rerun_gives_the_same_scores_and_keeps_cluster_ids(scored):
    world, _, second, before = scored
    assert second.success
    after = _score_tables(world)
    # Same features, same seeds: every score and model version the same to the bit.
    for table, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[table], check_exact=True, obj=table)
    runs = _query(world, "select count(distinct as_of_date) as n from scores.cluster_centroids")
    assert runs["n"].item() == 1  # a rerun replaces the day's centroids instead of adding
    # The rerun assigned every account to the stored centroids (no refit, same model version).
    fitted, assigned = (_meta(r, ["scores", "clusters"]) for r in (scored[1], second))
    assert fitted["refitted_this_run"].value and not assigned["refitted_this_run"].value
    assert assigned["refit_decision"].value.startswith(f"assigned with the fit of {world.as_of}")
    assert assigned["model_version"].value == fitted["model_version"].value
    assert assigned["cluster_share_psi"].value == 0.0


def test_scoring_from_scratch_on_a_copy_gives_the_same_bytes(scored, tmp_path_factory):
    """Unchanged data and config, nothing stored: the models are retrained and must come out
    the same (fits see rows in a fixed order, every random draw has a fixed seed)."""
    world, _, _, before = scored
    tmp = tmp_path_factory.mktemp("scratch")
    again = built_world(tmp, ACCOUNTS, SEED)
    assert _materialize(again, _config(tmp)).success
    after = _score_tables(again)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(frame, after[table], check_exact=True, obj=table)


def test_scores_report_plottable_numbers_and_their_table(scored):
    """Quantiles, shares and model metrics as numbers (Dagster plots them per partition), and
    the table each score wrote with its columns."""
    from dagster import FloatMetadataValue, TableSchemaMetadataValue

    world, first, _, _ = scored
    rfm = _query(world, "select rfm_score from scores.rfm")["rfm_score"]
    classes = _query(world, "select abc_class, count(*) as n from scores.abc group by 1")
    accounts = len(rfm)
    rfm_meta = _meta(first, ["scores", "rfm"])
    for q in (10, 50, 90):
        value = rfm_meta[f"rfm_score_p{q}"]
        assert isinstance(value, FloatMetadataValue)
        assert value.value == pytest.approx(float(rfm.quantile(q / 100)))
    assert rfm_meta["rfm_score_mean"].value == pytest.approx(float(rfm.mean()))
    assert rfm_meta["dagster/table_name"].value == "stratum.scores.rfm"
    schema = rfm_meta["dagster/column_schema"]
    assert isinstance(schema, TableSchemaMetadataValue)
    assert [c.name for c in schema.schema.columns][:2] == ["golden_account_id", "as_of_date"]
    assert rfm_meta["dagster/row_count"].value == accounts

    abc = _meta(first, ["scores", "abc"])
    shares = {c: n / accounts for c, n in zip(classes["abc_class"], classes["n"], strict=True)}
    assert {c: abc[f"abc_share_{c}"].value for c in "ABC"} == pytest.approx(
        {c: shares.get(c, 0.0) for c in "ABC"}
    )
    predictions = _meta(first, ["scores", "predictions"])
    contest = _query(world, "select * from scores.model_contest where winner")
    for target, metric, value in contest[["target", "metric", "metric_value"]].itertuples(
        index=False
    ):
        assert predictions[f"{target}_{metric}"].value == pytest.approx(value)
    clv = _meta(first, ["scores", "clv"])
    assert clv["clv_12m_p10"].value <= clv["clv_12m_p50"].value <= clv["clv_12m_p90"].value
    assert 0 <= clv["p_alive_mean"].value <= 1
    risk = _meta(first, ["scores", "risk"])
    assert sum(
        risk[f"risk_share_{lvl}"].value for lvl in ("low", "medium", "high", "stale", "unknown")
    ) == (pytest.approx(1.0))
    assert -1 <= _meta(first, ["scores", "clusters"])["silhouette_score"].value <= 1


# Columns account_features takes from account_windows (the definition the prediction models'
# history shares) that the profile (marts.customer_360) also computes, for BI, with its own SQL.
PROFILE_WINDOWS = [
    "first_order_date", "last_order_date", "days_since_last_order", "orders_30d", "orders_90d",
    "orders_prev_90d", "orders_365d", "orders_lifetime", "net_revenue_30d", "net_revenue_90d",
    "net_revenue_prev_90d", "net_revenue_365d", "net_revenue_lifetime", "refund_rate",
    "has_paid_order", "activities_30d", "activities_90d", "activities_prev_90d",
    "activities_365d", "unsubscribes_365d", "last_activity_at", "leads_total", "leads_open",
    "leads_converted", "nps_latest", "nps_avg_365d", "survey_responses", "credit_rating",
    "overdue_amount_cny", "lawsuit_count", "abnormal_operation", "risk_as_of_date",
]  # fmt: skip


def test_the_feature_windows_agree_with_the_profile_value_for_value(scored):
    """Two definitions of the as-of windows remain (the features' and the profile's): on the
    generated world they must not drift apart."""
    world, _, _, _ = scored
    columns = ", ".join(PROFILE_WINDOWS)
    features = _query(world, f"select golden_account_id, {columns} from features.account_features")
    profile = _query(world, f"select golden_account_id, {columns} from marts.customer_360")
    assert len(features) == len(profile) > 300
    assert features["has_paid_order"].any() and features["leads_open"].gt(0).any()
    pd.testing.assert_frame_equal(
        features.sort_values("golden_account_id", ignore_index=True),
        profile.sort_values("golden_account_id", ignore_index=True),
        check_exact=True,
        check_dtype=False,
    )


def test_a_world_with_only_accounts_and_orders_scores_null_not_zero(tmp_path, dbt_manifest):
    """Engagement, risk and leads were never delivered: what depends on them is unknown (null,
    "no data"; risk "unknown", not "stale"), while what accounts and orders tell is scored."""
    from tests.conftest import _build_up_to_features, make_world

    world = make_world(tmp_path, ACCOUNTS, SEED)
    for entity in ("crm_contacts", "crm_leads", "crm_activities", "risk", "surveys"):
        shutil.rmtree(world.landing / entity, ignore_errors=True)
    _build_up_to_features(world)
    result = _materialize(
        world,
        _config(tmp_path),
        selection=[AssetKey(["scores", k]) for k in ("behaviour", "fit", "risk", "clv", "rfm")],
    )
    assert result.success
    df = _query(
        world,
        "select b.behaviour_points, b.behaviour_reason, r.risk_level, r.risk_stale, "
        "r.risk_reason, f.fit_score, c.clv_12m, c.p_alive, a.has_paid_order "
        "from scores.behaviour b join scores.risk r using (golden_account_id) "
        "join scores.fit f using (golden_account_id) join scores.clv c using (golden_account_id) "
        "join features.account_features a using (golden_account_id)",
    )
    assert len(df) > 300
    assert df["behaviour_points"].isna().all()
    assert set(df["behaviour_reason"]) == {"no data: no activity records delivered"}
    assert not df["risk_stale"].any()
    assert set(df["risk_level"]) <= {"unknown", "high"}
    assert df["risk_reason"].str.contains("no risk record").all()
    # Accounts and orders are there: firmographic fit and the purchase models are scored.
    assert df["fit_score"].notna().mean() > 0.9 and (df["fit_score"] > 0).any()
    paying = df[df["has_paid_order"]]
    assert paying["p_alive"].notna().all() and (paying["clv_12m"] > 0).any()


def test_a_rerun_scores_with_the_stored_training_and_holds_no_new_contest(scored):
    """The first run trains (contest, fits) and stores the winners; the rerun of the date
    scores with them (to the same bytes: test_rerun_gives_the_same_scores_and_keeps_cluster_ids)
    and says so in its metadata."""
    world, first, second, _ = scored
    trained, reused = (_meta(r, ["scores", "predictions"]) for r in (first, second))
    assert trained["trained_this_run"].value is True
    assert trained["training_decision"].value.startswith("trained: no stored training")
    assert reused["trained_this_run"].value is False
    assert reused["training_decision"].value.startswith(
        f"scored with the training of {world.as_of} (0 days old, retrained every 7)"
    )
    assert reused["model_version"].value == trained["model_version"].value
    assert reused["model_age_days"].value == 0
    assert {"value_drift_psi", "churn_drift_psi", "conversion_drift_psi"} <= set(reused)
    stored = world.data_dir / "models" / "predictions" / trained["model_version"].value
    assert (stored / "fitted-test.pkl").exists()
    contests = _query(world, "select distinct as_of_date, model_version from scores.model_contest")
    assert len(contests) == 1


def test_the_schedule_retrains_when_the_training_is_old_the_scores_drift_or_the_code_is_modified(
    scored, tmp_path, monkeypatch
):
    """Decisions of the prediction step on later dates of the same world (nothing written)."""
    import dataclasses
    from datetime import timedelta

    from pipelines.scoring import models
    from pipelines.scoring.model_assets import _scheduled
    from tests.config_files import run_context

    world, first, _, _ = scored
    monkeypatch.setenv("STRATUM_DATA_DIR", str(world.data_dir))
    monkeypatch.setenv("STRATUM_CONFIG_DIR", _config(tmp_path))  # the fixture's rules
    cols = ", ".join(models.WINDOW_COLUMNS)
    windows = _query(
        world,
        f"select {cols} from features.account_windows order by golden_account_id, periods_back",
    )
    accounts = windows.loc[windows["periods_back"] == 0, "golden_account_id"]
    version = _meta(first, ["scores", "predictions"])["model_version"].value

    def decide(days: int, rows=windows, code="test", retrain=False):
        ctx = dataclasses.replace(
            run_context(world.as_of + timedelta(days=days)), code_version=code
        )
        cfg = ctx.config.rules("models")
        result, training = _scheduled(ctx, cfg, rows, accounts.reset_index(drop=True), retrain)
        return result.model_version, training

    kept, training = decide(6)
    assert kept == version and not training["trained"]
    assert max(training["psi"].values()) == 0.0  # the same rows: the same predictions
    _, training = decide(7)
    assert training["trained"]
    assert training["reason"] == "trained: no stored training of the last 7 days under these rules"
    # A rebuild (make run REBUILD=1) trains again, and on unchanged rows to the same model.
    again, training = decide(0, retrain=True)
    assert training["trained"] and training["reason"].startswith("trained: a rebuild was asked")
    assert again == version
    _, training = decide(1, code="test-dirty")
    assert training["trained"] and "'test-dirty' is not comparable" in training["reason"]
    # A year in which no paying account bought: each a year further from its last order, no
    # paid order or revenue in the last 365 days. Churn scores move to the top.
    lapsed = windows.copy()
    now = lapsed["periods_back"] == 0
    lapsed.loc[now, "days_since_last_paid_order"] += 365
    recent = [c for c in lapsed if c.startswith(("paid_orders_", "net_revenue_")) and
              c.endswith(("_90d", "_365d"))]  # fmt: skip
    lapsed.loc[now, recent] = 0
    _, training = decide(1, rows=lapsed)
    assert training["trained"] and training["psi"]["churn"] > 0.2, training
    assert training["reason"].startswith(
        f"trained: predictions drifted since the training of {world.as_of}: churn PSI"
    )
