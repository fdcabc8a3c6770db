"""mobilenet_v2 and image_features: the converted network, and 1280 MobileNetV2
features per image, computed in Spark."""


from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    Config,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ..partitions import fruit_classes
from ..resources import LakeResource, MobileNetResource, SparkRuntime
from ..spark_jobs.contracts import CHUNK_ROWS, FeaturizeParams
from ..spark_jobs.featurize import FEATURES_SCHEMA, bundle_key
from ..spark_jobs.layout import table_dir
from ..spark_jobs.mobilenet import cache_key
from .common import ASSET_KWARGS, LAKE_ASSET, class_observations, column_schema, committed_kept_on_failure, run_metadata, selected_classes, standard_metadata, version_of


# The lowest priority: the model resource starts converting when the run begins, and
# this step, which waits for it, lets the other ready steps (ingest) run meanwhile.
@asset(kinds={"tensorflow"}, tags={"stage": "features"}, op_tags={"dagster/priority": "-1"},
       backfill_policy=BackfillPolicy.single_run(), **LAKE_ASSET)
def mobilenet_v2(lake: LakeResource, model: MobileNetResource) -> MaterializeResult:
    """MobileNetV2 (ImageNet weights, no top, average pooling) converted for the workers
    and stored in the lake's model cache; its data version names the weights, backend
    and sizes, so a model change marks every feature stale."""
    lake.store().check_writable()
    spec = model.prepare(lake)
    key = cache_key(spec, spec.weights)
    return MaterializeResult(
        data_version=DataVersion(key),
        metadata={"weights": spec.weights, "backend": spec.backend, "input_size": spec.input_size,
                  "image_size": spec.image_size, "dagster/uri": f"{lake.spark_root}/{bundle_key(spec, spec.weights)}"},
    )


class FeaturizeConfig(Config):
    """``force``: infer every image again, even unchanged ones; ``rows_per_commit``: images
    written and committed together (a later failure keeps what was committed)."""

    force: bool = False
    rows_per_commit: int = CHUNK_ROWS


@asset(
    partitions_def=fruit_classes,
    deps=[AssetKey("raw_images"), mobilenet_v2],
    backfill_policy=BackfillPolicy.single_run(),
    kinds={"spark", "tensorflow", "parquet"},
    tags={"stage": "features"},
    **ASSET_KWARGS,
)
def image_features(
    context: AssetExecutionContext, config: FeaturizeConfig, spark: SparkRuntime, lake: LakeResource,
    model: MobileNetResource,
) -> MaterializeResult:
    """MobileNetV2 features of every raw image, from a pandas UDF with the model broadcast
    once and built once per worker. Only images without features from the same model
    go through the network; unchanged classes are reported as unchanged."""
    classes = selected_classes(context, lake)
    spec = model.prepare(lake)
    with committed_kept_on_failure(context, lake, ["image_features"], classes):
        result = spark.run_job(
            FeaturizeParams(lake_root=lake.spark_root, classes=classes, model=spec, force=config.force,
                            run_id=context.run_id, chunk_rows=config.rows_per_commit),
            context,
        )
    if result.weights != "imagenet":
        context.log.warning(
            f"Features were computed with {result.weights!r} weights, NOT ImageNet: "
            "they are fine for testing the pipeline but useless for recognition."
        )
    builds = result.model_builds_by_worker
    per_class = result.classes
    for observation in class_observations("image_features", {
        c: {"inferred": m.inferred, "reused": m.reused, "dagster/uri": m.uri} for c, m in per_class.items() if not m.unchanged
    }):
        context.log_event(observation)
    return MaterializeResult(
        data_version=version_of(m.uri for m in per_class.values()),
        metadata={
            **standard_metadata(result.rows, column_schema(FEATURES_SCHEMA), f"{lake.spark_root}/{table_dir('image_features')}"),
            **run_metadata(result, "rows", result.rows, result.images_per_second),
            "inferred": result.inferred,
            "reused": result.reused,
            "unchanged_classes": MetadataValue.json(result.unchanged_classes),
            "unchanged_class_count": len(result.unchanged_classes),
            "weights": result.weights,
            "backend": result.backend,
            "model": result.model,
            "model_seconds": result.model_seconds,
            "python_workers": len(builds),
            "max_model_builds_per_worker": max(builds.values(), default=0),
        },
    )
