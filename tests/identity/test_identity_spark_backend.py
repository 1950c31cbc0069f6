"""Splink on Spark gives what Splink on DuckDB gives (pipelines/identity/backends.py, training.py):
the same model, the same scored pairs, match weights within 1e-9 relative, on a trained model.

The integration world of the engine equivalence test is below ``training.min_records``, so it
scores with the priors; here the 3,000-company world is trained on both backends, with caps low
enough that u and one EM pass learn from record samples (the paths the 5,000-account sample
world and larger books take). Needs the ``spark`` extra, which ``make test`` installs.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipelines.identity.backends import SparkBackend, spark_session
from pipelines.identity.config import Training, load_identity_config
from pipelines.identity.features import read_features
from pipelines.identity.model import train_and_predict
from pipelines.identity.training import blocked_pairs

pytest.importorskip("pyspark")

CONFIG = load_identity_config(Path(__file__).parents[2] / "config").model
# DuckDB's Jaro-Winkler compares UTF-8 bytes: 0.9 here, where Splink's Scala jar (commons-text,
# characters) gives 0.867, a level lower in the name comparison.
NAMES = "'华为技术', '华为科技'"


@pytest.fixture(scope="module")
def scored(small_world_template, tmp_path_factory):
    from pipelines.spark.session import reader_session, stop_reader_session

    with duckdb.connect(str(small_world_template), read_only=True) as con:
        features = read_features(con, CONFIG.personal_email_domains)
    training = Training(
        u_max_pairs=3e5,  # about 775 of the records
        em_max_pairs=blocked_pairs(features, "name_core") // 2,
        min_records=1000,
    )
    config = CONFIG.model_copy(update={"training": training})
    duck = train_and_predict(features, config, "duckdb")
    stop_reader_session()  # whatever an earlier module in this process left
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("STRATUM_DATA_DIR", str(tmp_path_factory.mktemp("spark_backend")))
            spark = train_and_predict(features, config, "spark")
            cache_empty = reader_session()._jsparkSession.sharedState().cacheManager().isEmpty()
            backend = SparkBackend(spark_session())
            jaro_winkler = backend.to_arrow(f"select jaro_winkler({NAMES}) as jw").column(0)
            backend.close()
        yield features, duck, spark, cache_empty, jaro_winkler[0].as_py()
    finally:
        stop_reader_session()


def _levels(model_json: dict) -> dict[tuple[str, int], tuple[float, float]]:
    return {
        (c["output_column_name"], i): (level.get("m_probability"), level.get("u_probability"))
        for c in model_json["comparisons"]
        for i, level in enumerate(c["comparison_levels"])
    }


def test_both_backends_train_on_the_same_samples(scored):
    features, duck, spark, *_ = scored
    assert (duck.backend, spark.backend) == ("duckdb", "spark")
    assert duck.trained and spark.trained
    assert duck.em_passes == spark.em_passes == ["name_core", "uscc_any"]
    assert duck.u_records == spark.u_records == 775 < features.num_rows
    assert "name_core" in duck.em_records
    assert duck.em_records == spark.em_records
    assert spark.lambda_ == pytest.approx(duck.lambda_, rel=1e-12)


def test_spark_estimates_duckdbs_parameters(scored):
    _, duck, spark, *_ = scored
    duck_levels, spark_levels = _levels(duck.model_json), _levels(spark.model_json)
    assert duck_levels.keys() == spark_levels.keys()
    for key, values in duck_levels.items():
        for d, s in zip(values, spark_levels[key], strict=True):
            if d is None or s is None:
                assert d == s, key
            else:
                assert s == pytest.approx(d, rel=1e-9), key


def test_spark_scores_the_same_pairs_with_the_same_weights(scored):
    _, duck, spark, *_ = scored
    # a real model: many pairs merged, more held for review
    assert (duck.pairs["match_probability"] >= CONFIG.thresholds.match).sum() > 50
    assert (duck.pairs["match_probability"] < CONFIG.thresholds.match).sum() > 0
    keys = ["unique_id_l", "unique_id_r"]
    pd.testing.assert_frame_equal(spark.pairs[keys], duck.pairs[keys])
    assert spark.pairs.dtypes.to_dict() == duck.pairs.dtypes.to_dict()
    pd.testing.assert_frame_equal(spark.pairs, duck.pairs, check_exact=False, rtol=1e-9, atol=0)
    weights = duck.pairs["match_weight"].to_numpy()
    assert np.unique(weights).size > 10  # not one default weight


def test_matching_on_spark_leaves_nothing_cached(scored):
    *_, cache_empty, _ = scored
    assert cache_empty


def test_spark_compares_names_with_duckdbs_jaro_winkler(scored):
    *_, jaro_winkler = scored
    con = duckdb.connect()
    assert jaro_winkler == con.sql(f"select jaro_winkler_similarity({NAMES})").fetchall()[0][0]
    assert jaro_winkler == 0.9
