"""mobilenet_v2 and image_features: the converted network, and 1280 MobileNetV2 features
per image, computed in Spark."""

import json

from dagster import (
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetObservation,
    AssetSpec,
    BackfillPolicy,
    Config,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset,
)

from ...partitions import check_class_names
from ...resources import LakeResource, MobileNetResource, SparkRuntime
from ...resources.io_manager import BYTES, STORAGE
from ...resources.model import bundle_key
from ...resources.spark import final_unless_transient
from ...spark_jobs.contracts import CHUNK_ROWS, FeaturizedClass, FeaturizeParams
from ...spark_jobs.mobilenet import cache_key
from ...spark_jobs.tables import FEATURES_SCHEMA
from ..ingest.assets import RAW_IMAGES
from ..shared import (
    LAKE_ASSET,
    SPARK_POOL,
    SPARK_RETRY,
    ClassCheck,
    class_evaluations,
    class_table,
    column_schema,
    data_version_of,
    recorded_observations,
    runtime_metadata,
    table_metadata,
)
from . import changes, checks
from .checks import ClassFeatures

MOBILENET_V2 = AssetKey("mobilenet_v2")
IMAGE_FEATURES = AssetKey("image_features")
CHECKS = [
    ClassCheck(IMAGE_FEATURES, checks.one_feature_row_per_image),
    ClassCheck(IMAGE_FEATURES, checks.features_are_1280_finite_values),
    ClassCheck(IMAGE_FEATURES, checks.features_not_constant),
    ClassCheck(IMAGE_FEATURES, checks.features_from_imagenet_weights, AssetCheckSeverity.WARN),
]
RECORDED = ("bad_vectors", "all_vectors_equal", "content")  # what a class's observation keeps for later runs


# The lowest priority: the model resource starts converting when the run begins, and this
# step, which waits for it, lets the other ready steps (ingest) run meanwhile. A single-run
# backfill policy, like the assets partitioned by class it runs with: `dg launch` and the
# UI then launch a range of classes as one run.
@asset(key=MOBILENET_V2, kinds={"tensorflow"}, tags={"stage": "features"}, op_tags={"dagster/priority": "-1"},
       metadata={STORAGE: BYTES}, backfill_policy=BackfillPolicy.single_run(), **LAKE_ASSET)
def mobilenet_v2(lake: LakeResource, model: MobileNetResource) -> MaterializeResult:
    """MobileNetV2 (ImageNet weights, no top, average pooling) converted for the workers
    and kept in the lake's model cache; its data version names the weights, backend and
    sizes, so a model change marks every feature stale."""
    with final_unless_transient():
        lake.check_ready()
        spec = model.prepare(lake)
        key = cache_key(spec, spec.weights)
        return MaterializeResult(
            data_version=DataVersion(key),
            metadata={"weights": spec.weights, "backend": spec.backend, "input_size": spec.input_size,
                      "image_size": spec.image_size, "dagster/uri": lake.uri(bundle_key(spec, spec.weights))},
        )


class FeaturizeConfig(Config):
    """``force``: infer every image again, even those with features from the same model;
    ``rows_per_commit``: images written in one commit (a later failure keeps them)."""

    force: bool = False
    rows_per_commit: int = CHUNK_ROWS


@multi_asset(
    specs=[AssetSpec(
        IMAGE_FEATURES, deps=[RAW_IMAGES, MOBILENET_V2], **class_table("features"),
        description="1280 MobileNetV2 features per image (float32), with the model that computed them.",
    )],
    check_specs=[check.spec for check in CHECKS],
    backfill_policy=BackfillPolicy.single_run(),
    pool=SPARK_POOL,
    retry_policy=SPARK_RETRY,
)
def image_features(context: AssetExecutionContext, config: FeaturizeConfig, spark: SparkRuntime, lake: LakeResource,
                   model: MobileNetResource):
    """MobileNetV2 features of every raw image, from a pandas UDF with the model broadcast
    once and built once per worker. Classes whose features are current are not written
    again; within the others, only images without features from the same model go through
    the network."""
    with final_unless_transient():
        classes = check_class_names(list(context.partition_keys))
        lake.check_ready()
        spec = model.prepare(lake)
        model_id = cache_key(spec, spec.weights)
        held = changes.held_features(lake.read_table(RAW_IMAGES, changes.RAW_COLUMNS, classes),
                                     lake.read_table(IMAGE_FEATURES, changes.FEATURE_COLUMNS, classes), model_id, classes)
        current = [c for c in classes if held[c].current and not config.force]
        recorded = {c: r for c, r in recorded_observations(context, IMAGE_FEATURES, current).items()
                    if r.get("content") == held[c].content}
        todo = [c for c in classes if c not in current]
        measure = [c for c in current if c not in recorded]
        measures = {c: _from_record(held[c], recorded[c]) for c in recorded}
        result = None
        if todo or measure:
            params = FeaturizeParams(
                raw_images=lake.spark_uri(lake.table_key(RAW_IMAGES)),
                image_features=lake.spark_uri(lake.table_key(IMAGE_FEATURES)),
                network=lake.spark_uri(bundle_key(spec, spec.weights)), classes=todo, measure=measure, model=spec,
                raw_rows={c: held[c].raw_rows for c in [*todo, *measure]}, reusable=[c for c in todo if held[c].reusable],
                force=config.force, commit_info={"dagster_run_id": context.run_id}, chunk_rows=config.rows_per_commit,
            )
            try:
                result = spark.run_job(params, context)
            except Exception:
                yield from _committed_before_failure(context, lake)
                raise
            measures.update(result.classes)
            for cls, m in result.classes.items():
                yield AssetObservation(asset_key=IMAGE_FEATURES, partition=cls, metadata={
                    "rows": m.rows, "inferred": m.inferred, "reused": m.reused, "bad_vectors": m.bad_vectors,
                    "all_vectors_equal": m.all_vectors_equal, "content": held[cls].content,
                })
        if result is not None and spec.weights != "imagenet":
            context.log.warning(f"Features were computed with {spec.weights!r} weights, NOT ImageNet: "
                                "they are fine for testing the pipeline but useless for recognition.")
        rows = sum(m.rows for m in measures.values())
        builds = result.model_builds_by_worker if result else {}
        version = lake.table_version(IMAGE_FEATURES)
        yield MaterializeResult(
            asset_key=IMAGE_FEATURES,
            data_version=data_version_of({c: held[c].content for c in classes}),
            metadata={
                **table_metadata(rows, column_schema(FEATURES_SCHEMA), lake.uri(lake.table_key(IMAGE_FEATURES)), version),
                "written_classes": len(todo),
                "unchanged_classes": len(current),
                "inferred": result.inferred if result else 0,
                "reused": result.reused if result else 0,
                "commits": result.commits if result else 0,
                "seconds": MetadataValue.float(result.seconds if result else 0.0),
                "images_per_second": MetadataValue.float(float(result.images_per_second or 0.0) if result else 0.0),
                "weights": spec.weights,
                "backend": spec.backend,
                "model": model_id,
                "python_workers": len(builds),
                "max_model_builds_per_worker": max(builds.values(), default=0),
                **(runtime_metadata(result) if result else {}),
            },
        )
        yield from class_evaluations(CHECKS, {c: ClassFeatures(measures[c], spec.weights) for c in classes},
                                     context.selected_asset_check_keys)


def _from_record(held: changes.HeldFeatures, record: dict) -> FeaturizedClass:
    """A current class's measures: counts from the tables, vector measures as recorded
    when its features were written (their content is the same)."""
    return FeaturizedClass(rows=held.rows, raw_rows=held.raw_rows, distinct_ids=held.distinct_ids, inferred=0, reused=0,
                           bad_vectors=record["bad_vectors"], all_vectors_equal=record["all_vectors_equal"])


def _committed_before_failure(context: AssetExecutionContext, lake: LakeResource):
    """Materializations of the classes this run committed before it failed (the table's
    history names the run and the classes of each commit): a retry finds them current."""
    table = lake.delta_table(IMAGE_FEATURES)
    for entry in table.history() if table is not None else []:
        info = json.loads(entry.get("userMetadata") or "{}")
        if info.get("dagster_run_id") == context.run_id:
            for cls in info.get("classes", []):
                yield AssetMaterialization(asset_key=IMAGE_FEATURES, partition=cls, metadata={
                    "committed_before_the_run_failed": True, "table_version": entry["version"],
                })
