"""Data-quality measurements of the lake tables, computed from the data itself."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from .ingest import SPLITS
from .mobilenet import FEATURES
from .pca import CSV_NAME
from .uris import join
from .versioned import VersionedLake


def raw_images(spark: SparkSession, lake_root: str, source_root: str, classes: list[str]) -> dict:
    """{"classes": {class: files in the source, rows ingested and rejected, duplicate ids}}."""
    lake = VersionedLake(spark, lake_root)
    raw = lake.read_parquet("raw_images", classes)
    rejected = lake.read_parquet("rejected_images", classes)
    ingested = dict(raw.groupBy("label").count().collect())
    dropped = dict(rejected.groupBy("label").count().collect())
    duplicated = raw.groupBy("label", "image_id").count().where("count > 1")
    duplicates = dict(duplicated.groupBy("label").agg(F.sum(F.col("count") - 1)).collect())
    result = {}
    for cls in classes:
        files = sum(len(lake.fs.list_files(join(source_root, s, cls))) for s in SPLITS)
        result[cls] = {
            "files": files,
            "ingested": ingested.get(cls, 0),
            "rejected": dropped.get(cls, 0),
            "duplicate_ids": int(duplicates.get(cls, 0)),
        }
    return {"classes": result}


def image_features(spark: SparkSession, lake_root: str, classes: list[str]) -> dict:
    """{"classes": per class: raw rows, feature rows, bad vectors (wrong length or non-finite),
    and the spread of the per-image feature means (0 means constant features)."""
    lake = VersionedLake(spark, lake_root)
    raw = dict(lake.read_parquet("raw_images", classes).groupBy("label").count().collect())
    features = lake.read_parquet("image_features", classes)
    finite = F.forall("features", lambda v: ~F.isnan(v) & (F.abs(v) < float("inf")))
    bad = (F.size("features") != FEATURES) | ~finite | F.col("features").isNull()
    mean = F.aggregate("features", F.lit(0.0), lambda acc, v: acc + v) / F.size("features")
    stats = features.groupBy("label").agg(
        F.count("*").alias("rows"),
        F.sum(bad.cast("int")).alias("bad"),
        F.coalesce(F.stddev_pop(mean), F.lit(0.0)).alias("spread"),
        F.countDistinct("image_id").alias("ids"),
    )
    found = {r["label"]: r.asDict() for r in stats.collect()}
    return {"classes": {
        cls: {
            "raw_rows": raw.get(cls, 0),
            "rows": found.get(cls, {}).get("rows", 0),
            "distinct_ids": found.get(cls, {}).get("ids", 0),
            "bad_vectors": int(found.get(cls, {}).get("bad") or 0),
            "spread": float(found.get(cls, {}).get("spread") or 0.0),
        }
        for cls in classes
    }}


def pca_matrix(spark: SparkSession, lake_root: str) -> dict:
    """Rows and columns of the current CSV against the model and its feature rows."""
    lake = VersionedLake(spark, lake_root)
    model = lake.manifest("pca_model")
    matrix_uri = lake.current("pca_matrix")
    if model is None or matrix_uri is None:
        raise LookupError("pca_model and pca_matrix must both be materialized first.")
    csv = spark.read.option("header", True).csv(join(matrix_uri, CSV_NAME))
    feature_rows = lake.read_parquet("image_features", model["classes"]).count()
    return {
        "rows": csv.count(),
        "feature_rows": feature_rows,
        "columns": csv.columns,
        "k": model["k"],
        "variance_target": model["variance_target"],
        "cumulative_variance": model["cumulative_variance"][-1],
    }
