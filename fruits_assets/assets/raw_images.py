"""raw_images and rejected_images: the images of each fruit class, with labels, in the
lake, and every file that could not be used, with the reason."""


from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from dagster import AssetExecutionContext, AssetSpec, BackfillPolicy, MaterializeResult, MetadataValue, multi_asset

from ..partitions import fruit_classes
from ..resources import FruitSource, LakeResource, SparkRuntime
from ..spark_jobs.contracts import IngestedClass, IngestParams
from ..spark_jobs.ingest import RAW_SCHEMA, REJECTED_SCHEMA
from ..spark_jobs.layout import table_dir
from .common import (
    CODE_VERSION,
    GROUP,
    IO_MANAGER,
    OWNERS,
    SPARK_POOL,
    class_observations,
    column_schema,
    committed_kept_on_failure,
    png_markdown,
    run_metadata,
    selected_classes,
    standard_metadata,
    version_of,
)

THUMBNAIL_READS = 8  # thumbnail strips read from the lake at once
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
    rejected: Counter[str] = Counter()
    for m in per_class.values():
        rejected.update(m.rejected_by_reason)
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
            "source": source.resolved_root(),
        },
    )
    yield MaterializeResult(
        asset_key="rejected_images",
        data_version=version_of(m.rejected_uri for m in per_class.values()),
        metadata={
            **standard_metadata(result.rejected, column_schema(REJECTED_SCHEMA),
                                f"{lake.spark_root}/{table_dir('rejected_images')}"),
            "rejected_by_reason": MetadataValue.json(dict(sorted(rejected.items()))),
        },
    )
    yield from class_observations("raw_images", _class_metadata(lake, {c: m for c, m in per_class.items() if not m.unchanged}))


def _class_metadata(lake: LakeResource, ingested: dict[str, IngestedClass]) -> dict[str, dict]:
    """Each newly ingested class's counts, location and thumbnail strip."""
    store = lake.store()  # one client, shared by the threads: S3 round trips overlap
    with ThreadPoolExecutor(THUMBNAIL_READS) as pool:
        strips = dict(zip(ingested, pool.map(lambda m: m.thumbnails and store.read_bytes(lake.key_of(m.thumbnails)),
                                             ingested.values())))
    return {
        cls: {
            "ingested": m.ingested,
            "rejected": m.rejected,
            "rejected_by_reason": MetadataValue.json(m.rejected_by_reason),
            "dagster/uri": m.uri,
            **({"thumbnails": png_markdown({cls: strips[cls]})} if strips[cls] else {}),
        }
        for cls, m in ingested.items()
    }
