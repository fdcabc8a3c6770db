"""raw_images and rejected_images: the images of each fruit class, with labels, in the
lake, and every file that could not be used, with the reason."""


from dagster import AssetExecutionContext, AssetSpec, BackfillPolicy, MaterializeResult, MetadataValue, multi_asset

from ..partitions import fruit_classes
from ..resources import FruitSource, LakeResource, SparkRuntime
from ..spark_jobs.contracts import IngestParams
from ..spark_jobs.ingest import RAW_SCHEMA, REJECTED_SCHEMA
from ..spark_jobs.layout import table_dir
from .common import (
    CODE_VERSION,
    GROUP,
    IO_MANAGER,
    OWNERS,
    SPARK_POOL,
    column_schema,
    committed_kept_on_failure,
    png_markdown,
    run_metadata,
    selected_classes,
    standard_metadata,
    version_of,
)

MAX_STRIPS = 24  # classes shown in the run's thumbnail metadata
IMAGE_TABLE = {"partitions_def": fruit_classes, "group_name": GROUP, "owners": OWNERS, "code_version": CODE_VERSION}


@multi_asset(
    specs=[
        AssetSpec(
            "raw_images", kinds={"spark", "parquet"}, tags={"stage": "ingest"}, **IMAGE_TABLE,
            description="Usable images as Parquet: id (SHA-256 of the bytes), path, split, label, width, height, bytes.",
        ).with_io_manager_key(IO_MANAGER),
        AssetSpec(
            "rejected_images", kinds={"spark", "parquet"}, tags={"stage": "ingest"}, **IMAGE_TABLE,
            description="Every source file that was not ingested: path, label, split and the reason.",
        ).with_io_manager_key(IO_MANAGER),
    ],
    backfill_policy=BackfillPolicy.single_run(),
    pool=SPARK_POOL,
)
def raw_images(context: AssetExecutionContext, spark: SparkRuntime, lake: LakeResource, source: FruitSource):
    """Ingest the selected classes in one scan; a class whose files are unchanged since its
    current version is not read again (reported as unchanged)."""
    classes = selected_classes(context, lake)
    source.require(classes)
    with committed_kept_on_failure(context, lake, ["rejected_images", "raw_images"], classes):
        result = spark.run_job(
            IngestParams(source_root=source.spark_root, lake_root=lake.spark_root, classes=classes, run_id=context.run_id),
            context,
        )
    per_class = result.classes
    rejected = {c: m.rejected_by_reason for c, m in per_class.items() if m.rejected}
    shown = [c for c, m in per_class.items() if m.thumbnails and not m.unchanged][:MAX_STRIPS]
    strips = {c: lake.read_uri(per_class[c].thumbnails) for c in shown}
    unchanged = result.unchanged_classes
    yield MaterializeResult(
        asset_key="raw_images",
        data_version=version_of(m.uri for m in per_class.values()),
        metadata={
            **standard_metadata(result.ingested, column_schema(RAW_SCHEMA), f"{lake.spark_root}/{table_dir('raw_images')}"),
            **run_metadata(result, "ingested", result.ingested, result.files_per_second),
            "files": result.files,
            "rejected": result.rejected,
            "unchanged_classes": MetadataValue.json(unchanged),
            "unchanged_class_count": len(unchanged),
            "lake_uris": MetadataValue.json({c: m.uri for c, m in per_class.items()}),
            "source": source.resolved_root(),
            "thumbnails": png_markdown(strips),
        },
    )
    yield MaterializeResult(
        asset_key="rejected_images",
        data_version=version_of(m.rejected_uri for m in per_class.values()),
        metadata={
            **standard_metadata(result.rejected, column_schema(REJECTED_SCHEMA),
                                f"{lake.spark_root}/{table_dir('rejected_images')}"),
            "rejected_by_class_and_reason": MetadataValue.json(rejected),
        },
    )
