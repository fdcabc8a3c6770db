"""image_features: 1280 MobileNetV2 features per image, computed in Spark."""


from dagster import AssetExecutionContext, BackfillPolicy, MetadataValue, Output, asset

from ..partitions import fruit_classes
from ..resources import LakeResource, MobileNetResource, SparkRuntime
from .common import ASSET_KWARGS, run_metadata, selected_classes
from .raw_images import raw_images


@asset(
    partitions_def=fruit_classes,
    deps=[raw_images],
    backfill_policy=BackfillPolicy.single_run(),
    kinds={"spark", "tensorflow", "parquet"},
    tags={"stage": "features"},
    **ASSET_KWARGS,
)
def image_features(
    context: AssetExecutionContext, spark: SparkRuntime, lake: LakeResource, model: MobileNetResource
) -> Output[dict]:
    """MobileNetV2 (ImageNet, no top, average pooling) features of every raw image,
    from a pandas UDF with the model broadcast once and built once per worker."""
    classes = selected_classes(context, lake)
    spec = model.prepare(lake)
    metrics = spark.run_job(
        "featurize", context, lake_root=lake.spark_root, classes=classes, model=spec.to_dict()
    )
    if metrics["weights"] != "imagenet":
        context.log.warning(
            f"Features were computed with {metrics['weights']!r} weights, NOT ImageNet: "
            "they are fine for testing the pipeline but useless for recognition."
        )
    builds = metrics["model_builds_by_worker"]
    return Output(
        metrics,
        metadata={
            **run_metadata(metrics, "rows"),
            "weights": metrics["weights"],
            "backend": metrics["backend"],
            "model_seconds": metrics["model_seconds"],
            "python_workers": len(builds),
            "max_model_builds_per_worker": max(builds.values(), default=0),
            "lake_uris": MetadataValue.json({c: m["uri"] for c, m in metrics["classes"].items()}),
        },
    )
