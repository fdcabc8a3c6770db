"""raw_images and rejected_images: the images of each fruit class, with labels, as Delta
tables in the lake, and every file that could not be used, with the reason."""

from collections import Counter

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetSpec,
    BackfillPolicy,
    Config,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from ...partitions import check_class_names
from ...resources import FruitSource, LakeResource, SparkRuntime
from ...resources.spark import final_unless_transient
from ...spark_jobs.contracts import IngestedClass, IngestParams
from ...spark_jobs.tables import RAW_SCHEMA, REJECTED_SCHEMA
from ..shared import (
    SPARK_POOL,
    SPARK_RETRY,
    ClassCheck,
    class_evaluations,
    class_table,
    column_schema,
    data_version_of,
    digest,
    png_markdown,
    runtime_metadata,
    table_metadata,
)
from . import changes, checks

RAW_IMAGES = AssetKey("raw_images")
REJECTED_IMAGES = AssetKey("rejected_images")
CHECKS = [ClassCheck(RAW_IMAGES, checks.every_file_accounted_for), ClassCheck(RAW_IMAGES, checks.unique_image_ids)]
TABLE = class_table("ingest")


class IngestConfig(Config):
    """``force``: read every selected class again, even those whose files did not change
    (needed after changing ``max_pixels`` or ``min_side``)."""

    force: bool = False
    max_pixels: int = IngestParams.max_pixels
    min_side: int = IngestParams.min_side


@multi_asset(
    specs=[
        AssetSpec(RAW_IMAGES, description="Usable images: id (SHA-256 of the bytes), path, split, label, width, "
                  "height, file size and modification time, bytes.", **TABLE),
        AssetSpec(REJECTED_IMAGES, description="Every source file that was not ingested: path, label, split, file "
                  "size and modification time, and the reason.", **TABLE),
    ],
    check_specs=[check.spec for check in CHECKS],
    backfill_policy=BackfillPolicy.single_run(),
    pool=SPARK_POOL,
    retry_policy=SPARK_RETRY,
)
def raw_images(context: AssetExecutionContext, config: IngestConfig, spark: SparkRuntime, lake: LakeResource,
               source: FruitSource):
    """Ingest the selected classes whose files changed, in one scan and one commit per
    table; the others are not read (reported as unchanged)."""
    with final_unless_transient():
        classes = check_class_names(list(context.partition_keys))
        lake.check_ready()
        source.require(classes)
        listed = source.files(classes)
        held = changes.HeldFiles(lake.read_table(RAW_IMAGES, changes.RAW_COLUMNS, classes),
                                 lake.read_table(REJECTED_IMAGES, changes.REJECTED_COLUMNS, classes))
        unchanged = [] if config.force else changes.unchanged_classes(listed, held)
        todo = [c for c in classes if c not in unchanged]
        measures = held.measures(listed, unchanged)
        result = None
        if todo:
            result = spark.run_job(IngestParams(
                source_root=source.spark_root, raw_images=lake.spark_uri(lake.table_key(RAW_IMAGES)),
                rejected_images=lake.spark_uri(lake.table_key(REJECTED_IMAGES)), classes=todo,
                max_pixels=config.max_pixels, min_side=config.min_side, commit_info={"dagster_run_id": context.run_id},
                classes_with_rejections=held.rejected_classes(),
            ), context)
            measures.update(result.classes)
            yield from _observations(result.classes)
        measures = {c: measures[c] for c in classes}
        contents = {c: digest(sorted((f.relative, f.size, f.modified_ms) for f in listed[c])) for c in classes}
        raw_version, rejected_version = lake.table_version(RAW_IMAGES), lake.table_version(REJECTED_IMAGES)
        ingested = sum(m.ingested for m in measures.values())
        yield MaterializeResult(
            asset_key=RAW_IMAGES,
            data_version=data_version_of(contents),
            metadata={
                **table_metadata(ingested, column_schema(RAW_SCHEMA), lake.uri(lake.table_key(RAW_IMAGES)), raw_version),
                "files": sum(m.files for m in measures.values()),
                "rejected": sum(m.rejected for m in measures.values()),
                "ingested_classes": len(todo),
                "unchanged_classes": len(unchanged),
                "seconds": MetadataValue.float(result.seconds if result else 0.0),
                "files_per_second": MetadataValue.float(float(result.files_per_second or 0.0) if result else 0.0),
                "source": source.resolved_root(),
                **(runtime_metadata(result) if result else {}),
            },
        )
        reasons: Counter[str] = Counter()
        for m in measures.values():
            reasons.update(m.rejected_by_reason)
        yield MaterializeResult(
            asset_key=REJECTED_IMAGES,
            data_version=data_version_of(contents),
            metadata={
                **table_metadata(sum(reasons.values()), column_schema(REJECTED_SCHEMA),
                                 lake.uri(lake.table_key(REJECTED_IMAGES)), rejected_version),
                "rejected_by_reason": MetadataValue.json(dict(sorted(reasons.items()))),
            },
        )
        yield from class_evaluations(CHECKS, measures, context.selected_asset_check_keys)


def _observations(ingested: dict[str, IngestedClass]):
    """Each ingested class's own figures and thumbnail strip, on its own partition (a run's
    materialization is one for all its classes)."""
    for cls, m in ingested.items():
        metadata = {"files": m.files, "ingested": m.ingested, "rejected": m.rejected,
                    "rejected_by_reason": MetadataValue.json(m.rejected_by_reason)}
        if m.thumbnails:
            metadata["thumbnails"] = png_markdown({cls: m.thumbnails})
        yield AssetObservation(asset_key=RAW_IMAGES, partition=cls, metadata=metadata)
