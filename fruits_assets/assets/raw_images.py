"""raw_images: the images of each fruit class, with labels, in the lake."""


from dagster import AssetExecutionContext, BackfillPolicy, MetadataValue, Output, asset

from ..partitions import fruit_classes
from ..resources import FruitSource, LakeResource, SparkRuntime
from .common import ASSET_KWARGS, png_markdown, run_metadata, selected_classes

MAX_STRIPS = 24  # classes shown in the run's thumbnail metadata


@asset(
    partitions_def=fruit_classes,
    backfill_policy=BackfillPolicy.single_run(),
    kinds={"spark", "parquet"},
    tags={"stage": "ingest"},
    **ASSET_KWARGS,
)
def raw_images(
    context: AssetExecutionContext, spark: SparkRuntime, lake: LakeResource, source: FruitSource
) -> Output[dict]:
    """Images of the selected classes as Parquet (id = SHA-256 of the bytes, path,
    split, label, width, height, bytes); unusable files go to ``rejected_images``."""
    classes = selected_classes(context, lake)
    source.require(classes)
    metrics = spark.run_job(
        "ingest", context, source_root=source.spark_root, lake_root=lake.spark_root, classes=classes
    )
    rejected = {c: m["rejected_by_reason"] for c, m in metrics["classes"].items() if m["rejected"]}
    shown = [c for c, m in metrics["classes"].items() if m["thumbnails"]][:MAX_STRIPS]
    strips = {c: lake.read_uri(metrics["classes"][c]["thumbnails"]) for c in shown}
    return Output(
        metrics,
        metadata={
            **run_metadata(metrics, "ingested"),
            "files": metrics["files"],
            "rejected": metrics["rejected"],
            "rejected_by_class_and_reason": MetadataValue.json(rejected),
            "lake_uris": MetadataValue.json({c: m["uri"] for c, m in metrics["classes"].items()}),
            "source": source.resolved_root(),
            "thumbnails": png_markdown(strips),
        },
    )
