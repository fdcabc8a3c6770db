"""pca_model and pca_matrix: Spark ML PCA of the features, and the CSV matrix."""


from typing import Optional

from dagster import AssetExecutionContext, AutomationCondition, Config, DataVersion, MaterializeResult, MetadataValue, TableColumn, TableSchema, asset

from ..resources import LakeResource, SparkRuntime
from ..spark_jobs.pca import check_settings
from .common import ASSET_KWARGS, png_markdown, runtime_metadata, standard_metadata
from .image_features import image_features


# Refit once features changed and every class has them (the daemon's automation sensor).
REFIT = AutomationCondition.eager()


class PCAConfig(Config):
    """Either a fixed ``k`` (1..1280), or the smallest k reaching ``variance_target``."""

    k: Optional[int] = None
    variance_target: Optional[float] = 0.95
    force: bool = False  # refit even if no feature and no setting changed


@asset(deps=[image_features], kinds={"spark"}, tags={"stage": "model"}, automation_condition=REFIT, **ASSET_KWARGS)
def pca_model(
    context: AssetExecutionContext, config: PCAConfig, spark: SparkRuntime, lake: LakeResource
) -> MaterializeResult:
    """Spark ML PCAModel of the Training split of every class with features; refitted
    only when some class's features or the settings changed."""
    target = None if config.k is not None else config.variance_target
    check_settings(config.k, target)
    lake.store().check_writable()
    classes = sorted(context.instance.get_dynamic_partitions("fruit_class"))
    metrics = spark.run_job("pca_fit", context, lake_root=lake.spark_root, classes=classes, k=config.k, variance_target=target,
                            force=config.force)
    if metrics["missing_classes"]:
        context.log.warning(f"Classes without features, left out: {metrics['missing_classes']}")
    return MaterializeResult(
        data_version=DataVersion(metrics["inputs"][:16]),
        metadata={
            "dagster/uri": metrics["uri"],
            "unchanged": metrics["unchanged"],
            "k": metrics["k"],
            "variance_target": MetadataValue.float(float(target)) if target else MetadataValue.null(),
            "cumulative_variance": MetadataValue.float(float(metrics["cumulative_variance"][-1])),
            "explained_variance": MetadataValue.json(metrics["explained_variance"]),
            "train_rows": metrics["train_rows"],
            "classes": len(metrics["classes"]),
            "seconds": metrics["seconds"],
            "scree_plot": png_markdown({"Scree and cumulative variance": lake.read_uri(metrics["scree_png"])}),
            **runtime_metadata(metrics),
        },
    )


@asset(
    deps=[pca_model, image_features], kinds={"spark", "csv"}, tags={"stage": "model"}, automation_condition=REFIT,
    **ASSET_KWARGS,
)
def pca_matrix(context: AssetExecutionContext, spark: SparkRuntime, lake: LakeResource) -> MaterializeResult:
    """Every image projected on the components: CSV ``path,label,split,pc_1..pc_k``
    (rewritten only when the model or some class's features changed)."""
    lake.store().check_writable()
    metrics = spark.run_job("pca_project", context, lake_root=lake.spark_root)
    schema = TableSchema(columns=[TableColumn(c, "string" if c in ("path", "label", "split") else "double")
                                  for c in metrics["columns"]])
    return MaterializeResult(
        data_version=DataVersion(metrics["inputs"][:16]),
        metadata={
            **standard_metadata(metrics["rows"], schema, metrics["csv"]),
            "unchanged": metrics["unchanged"],
            "rows": metrics["rows"],
            "k": metrics["k"],
            "csv": MetadataValue.path(metrics["csv"]),
            "scatter_plot": png_markdown({"pc_1 vs pc_2 by class": lake.read_uri(metrics["scatter_png"])}),
            "seconds": metrics["seconds"],
            **runtime_metadata(metrics),
        },
    )
