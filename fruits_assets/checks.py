"""Asset checks. They evaluate what each job measured while it wrote a version (kept in
that version's manifest), so none reads the data again and none needs Spark; the
file count is compared with a fresh listing of the source. Blocking checks stop bad
data from flowing downstream; the weights and accuracy checks only warn."""


from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue, asset_check

from .assets import fruit_classifier, image_features, pca_matrix, pca_model
from .partitions import fruit_classes
from .resources import FruitSource, LakeResource

RAW_IMAGES = AssetKey("raw_images")


def _result(failures: dict, stats: dict, severity=AssetCheckSeverity.ERROR) -> AssetCheckResult:
    return AssetCheckResult(
        passed=not failures,
        severity=severity,
        metadata={"failures": MetadataValue.json(failures), "stats": MetadataValue.json(stats)},
    )


def _measured(lake: LakeResource, table: str, classes: list[str]) -> dict[str, dict]:
    """{class: manifest of its current version}; a class without one counts as empty."""
    return {c: m or {"rows": 0, "distinct_ids": 0} for c, m in lake.manifests(table, classes).items()}


@asset_check(asset=RAW_IMAGES, partitions_def=fruit_classes, blocking=True)
def every_file_accounted_for(
    context: AssetCheckExecutionContext, lake: LakeResource, source: FruitSource
) -> AssetCheckResult:
    """Each source file (listed now) is either ingested or rejected with a reason."""
    classes = list(context.partition_keys)
    files = source.file_counts()
    raw, rejected = _measured(lake, "raw_images", classes), _measured(lake, "rejected_images", classes)
    stats = {c: {"files": files.get(c, 0), "ingested": raw[c]["rows"], "rejected": rejected[c]["rows"]} for c in classes}
    return _result({c: s for c, s in stats.items() if s["files"] != s["ingested"] + s["rejected"]}, stats)


@asset_check(asset=RAW_IMAGES, partitions_def=fruit_classes, blocking=True)
def unique_image_ids(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """No two ingested images of a class have the same content hash."""
    raw = _measured(lake, "raw_images", list(context.partition_keys))
    stats = {c: {"rows": m["rows"], "distinct_ids": m["distinct_ids"]} for c, m in raw.items()}
    return _result({c: s for c, s in stats.items() if s["rows"] != s["distinct_ids"]}, stats)


@asset_check(asset=image_features, partitions_def=fruit_classes, blocking=True)
def one_feature_row_per_image(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """Exactly one feature row per image of the current raw version."""
    classes = list(context.partition_keys)
    raw = {c: lake.current_manifest("raw_images", c) or ("?", {"rows": 0}) for c in classes}
    features = _measured(lake, "image_features", classes)
    stats = {
        c: {"raw_rows": raw[c][1]["rows"], "rows": features[c]["rows"], "distinct_ids": features[c]["distinct_ids"],
            "from_current_raw_version": features[c].get("raw_version", "").endswith(raw[c][0])}
        for c in classes
    }
    bad = {c: s for c, s in stats.items()
           if not (s["rows"] == s["distinct_ids"] == s["raw_rows"] and s["from_current_raw_version"])}
    return _result(bad, stats)


@asset_check(asset=image_features, partitions_def=fruit_classes, blocking=True)
def features_are_1280_finite_values(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """Every vector has 1280 finite values."""
    features = _measured(lake, "image_features", list(context.partition_keys))
    stats = {c: m.get("bad_vectors", 0) for c, m in features.items()}
    return _result({c: n for c, n in stats.items() if n}, stats)


@asset_check(asset=image_features, partitions_def=fruit_classes, blocking=True)
def features_not_constant(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """Images of a class (of 2 or more) do not all get the same features."""
    features = _measured(lake, "image_features", list(context.partition_keys))
    stats = {c: {"rows": m["rows"], "all_vectors_equal": _all_vectors_equal(m)} for c, m in features.items()}
    return _result({c: s for c, s in stats.items() if s["rows"] > 1 and s["all_vectors_equal"]}, stats)


def _all_vectors_equal(measured: dict) -> bool:
    """From the manifest (feature versions written before this measure hold ``spread``, the
    range of the per-image means, instead)."""
    if "all_vectors_equal" in measured:
        return measured["all_vectors_equal"]
    return measured.get("spread", 0.0) <= 0


@asset_check(asset=image_features, partitions_def=fruit_classes)
def features_from_imagenet_weights(context: AssetCheckExecutionContext, lake: LakeResource) -> AssetCheckResult:
    """Warns when features came from random (not ImageNet) weights."""
    weights = {c: m.get("weights") for c, m in _measured(lake, "image_features", list(context.partition_keys)).items()}
    return _result({c: w for c, w in weights.items() if w != "imagenet"}, weights, AssetCheckSeverity.WARN)


@asset_check(asset=pca_model, blocking=True)
def variance_target_reached(lake: LakeResource) -> AssetCheckResult:
    """The chosen k explains at least the requested share of the variance."""
    manifest = lake.manifest("pca_model") or {}
    target, reached = manifest.get("variance_target"), manifest.get("cumulative_variance", [0.0])[-1]
    failed = target is not None and reached < target - 1e-9
    return _result({"target": target, "reached": reached} if failed else {}, {"k": manifest.get("k")})


@asset_check(asset=pca_matrix, blocking=True)
def one_row_per_feature_row_and_k_columns(lake: LakeResource) -> AssetCheckResult:
    """The CSV has one row per current feature row of its classes, and columns
    path,label,split,pc_1..pc_k."""
    manifest = lake.manifest("pca_matrix") or {"rows": 0, "classes": [], "columns": [], "k": 0}
    feature_rows = sum(m["rows"] for m in _measured(lake, "image_features", manifest["classes"]).values())
    expected = ["path", "label", "split"] + [f"pc_{i}" for i in range(1, manifest["k"] + 1)]
    failures = {}
    if manifest["rows"] != feature_rows or not manifest["classes"]:
        failures["rows"] = {"csv": manifest["rows"], "features": feature_rows}
    if manifest["columns"] != expected:
        failures["columns"] = manifest["columns"]
    return _result(failures, {"rows": manifest["rows"], "feature_rows": feature_rows, "k": manifest["k"]})


@asset_check(asset=fruit_classifier)
def accuracy_above_floor(lake: LakeResource) -> AssetCheckResult:
    """Warns when the Test accuracy is not above the floor (5x chance by default)."""
    manifest = lake.manifest("fruit_classifier") or {}
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
