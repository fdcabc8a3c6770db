"""Asset checks, measured on the data in the lake. Blocking ones stop bad data
from flowing downstream; the weights check only warns. Checks that run Spark share
the assets' "spark" pool, so they never read a partition while another run rewrites it."""


from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from .assets import fruit_classifier, image_features, pca_matrix, pca_model, raw_images
from .assets.common import SPARK_POOL
from .partitions import fruit_classes
from .resources import FruitSource, LakeResource, SparkRuntime


def _result(failures: dict, stats: dict, severity=AssetCheckSeverity.ERROR) -> AssetCheckResult:
    return AssetCheckResult(
        passed=not failures,
        severity=severity,
        metadata={"failures": MetadataValue.json(failures), "stats": MetadataValue.json(stats)},
    )


def _raw_stats(context, spark: SparkRuntime, lake: LakeResource, source: FruitSource) -> dict:
    return spark.run_job(
        "quality_raw_images",
        context,
        lake_root=lake.spark_root,
        source_root=source.spark_root,
        classes=list(context.partition_keys),
    )["classes"]


def _feature_stats(context, spark: SparkRuntime, lake: LakeResource) -> dict:
    return spark.run_job(
        "quality_image_features", context, lake_root=lake.spark_root, classes=list(context.partition_keys)
    )["classes"]


@asset_check(asset=raw_images, partitions_def=fruit_classes, blocking=True, pool=SPARK_POOL)
def every_file_accounted_for(
    context: AssetCheckExecutionContext, spark: SparkRuntime, lake: LakeResource, source: FruitSource
) -> AssetCheckResult:
    """Each source file is either ingested or rejected with a reason."""
    stats = _raw_stats(context, spark, lake, source)
    return _result({c: s for c, s in stats.items() if s["files"] != s["ingested"] + s["rejected"]}, stats)


@asset_check(asset=raw_images, partitions_def=fruit_classes, blocking=True, pool=SPARK_POOL)
def unique_image_ids(
    context: AssetCheckExecutionContext, spark: SparkRuntime, lake: LakeResource, source: FruitSource
) -> AssetCheckResult:
    """No two ingested images of a class have the same content hash."""
    stats = _raw_stats(context, spark, lake, source)
    return _result({c: s["duplicate_ids"] for c, s in stats.items() if s["duplicate_ids"]}, stats)


@asset_check(asset=image_features, partitions_def=fruit_classes, blocking=True, pool=SPARK_POOL)
def one_feature_row_per_image(
    context: AssetCheckExecutionContext, spark: SparkRuntime, lake: LakeResource
) -> AssetCheckResult:
    """Exactly one feature row per ingested image."""
    stats = _feature_stats(context, spark, lake)
    bad = {c: s for c, s in stats.items() if not s["rows"] == s["distinct_ids"] == s["raw_rows"]}
    return _result(bad, stats)


@asset_check(asset=image_features, partitions_def=fruit_classes, blocking=True, pool=SPARK_POOL)
def features_are_1280_finite_values(
    context: AssetCheckExecutionContext, spark: SparkRuntime, lake: LakeResource
) -> AssetCheckResult:
    """Every vector has 1280 finite values."""
    stats = _feature_stats(context, spark, lake)
    return _result({c: s["bad_vectors"] for c, s in stats.items() if s["bad_vectors"]}, stats)


@asset_check(asset=image_features, partitions_def=fruit_classes, blocking=True, pool=SPARK_POOL)
def features_not_constant(
    context: AssetCheckExecutionContext, spark: SparkRuntime, lake: LakeResource
) -> AssetCheckResult:
    """Images of a class (of 2 or more) do not all get the same features."""
    stats = _feature_stats(context, spark, lake)
    return _result({c: s["spread"] for c, s in stats.items() if s["rows"] > 1 and s["spread"] <= 0}, stats)


@asset_check(asset=image_features, partitions_def=fruit_classes)
def features_from_imagenet_weights(
    context: AssetCheckExecutionContext, lake: LakeResource
) -> AssetCheckResult:
    """Warns when features came from random (not ImageNet) weights."""
    weights = {c: (lake.read_manifest("image_features", c) or {}).get("weights") for c in context.partition_keys}
    failures = {c: w for c, w in weights.items() if w != "imagenet"}
    return _result(failures, weights, AssetCheckSeverity.WARN)


@asset_check(asset=pca_model, blocking=True)
def variance_target_reached(lake: LakeResource) -> AssetCheckResult:
    """The chosen k explains at least the requested share of the variance."""
    manifest = lake.read_manifest("pca_model") or {}
    target, reached = manifest.get("variance_target"), manifest.get("cumulative_variance", [0.0])[-1]
    failed = target is not None and reached < target - 1e-9
    return _result({"target": target, "reached": reached} if failed else {}, {"k": manifest.get("k")})


@asset_check(asset=pca_matrix, blocking=True, pool=SPARK_POOL)
def one_row_per_feature_row_and_k_columns(
    context: AssetCheckExecutionContext, spark: SparkRuntime, lake: LakeResource
) -> AssetCheckResult:
    """The CSV has one row per feature row and columns path,label,split,pc_1..pc_k."""
    stats = spark.run_job("quality_pca_matrix", context, lake_root=lake.spark_root)
    expected = ["path", "label", "split"] + [f"pc_{i}" for i in range(1, stats["k"] + 1)]
    failures = {}
    if stats["rows"] != stats["feature_rows"]:
        failures["rows"] = {"csv": stats["rows"], "features": stats["feature_rows"]}
    if stats["columns"] != expected:
        failures["columns"] = stats["columns"]
    return _result(failures, {k: v for k, v in stats.items() if k != "columns"})


@asset_check(asset=fruit_classifier)
def accuracy_above_floor(lake: LakeResource) -> AssetCheckResult:
    """Warns when the Test accuracy is not above the floor (5x chance by default)."""
    manifest = lake.read_manifest("fruit_classifier") or {}
    accuracy, floor = manifest.get("accuracy", 0.0), manifest.get("accuracy_floor", 1.0)
    stats = {k: manifest.get(k) for k in ("accuracy", "accuracy_floor", "chance", "classes", "test_rows")}
    return _result({} if accuracy > floor else {"accuracy": accuracy, "floor": floor}, stats, AssetCheckSeverity.WARN)


ALL_CHECKS = [
    every_file_accounted_for,
    unique_image_ids,
    one_feature_row_per_image,
    features_are_1280_finite_values,
    features_not_constant,
    features_from_imagenet_weights,
    variance_target_reached,
    one_row_per_feature_row_and_k_columns,
    accuracy_above_floor,
]
