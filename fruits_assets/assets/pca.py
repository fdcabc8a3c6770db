"""pca_model and pca_matrix: Spark ML PCA of the features, and the CSV matrix."""


from typing import Optional

from dagster import AssetExecutionContext, AutomationCondition, Config, DataVersion, MaterializeResult, MetadataValue, TableColumn, TableSchema, asset

from ..resources import LakeResource, SparkRuntime
from ..spark_jobs.contracts import PcaFitParams, PcaProjectParams
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
    fit = spark.run_job(
        PcaFitParams(lake_root=lake.spark_root, classes=classes, k=config.k, variance_target=target, force=config.force),
        context,
    )
    if fit.missing_classes:
        context.log.warning(f"Classes without features, left out: {fit.missing_classes}")
    return MaterializeResult(
        data_version=DataVersion(fit.inputs[:16]),
        metadata={
            "dagster/uri": fit.uri,
            "unchanged": fit.unchanged,
            "k": fit.k,
            "variance_target": MetadataValue.float(float(target)) if target else MetadataValue.null(),
            "cumulative_variance": MetadataValue.float(float(fit.cumulative_variance[-1])),
            "explained_variance": MetadataValue.json(fit.explained_variance),
            "train_rows": fit.train_rows,
            "classes": len(fit.classes),
            "seconds": fit.seconds,
            "scree_plot": png_markdown({"Scree and cumulative variance": lake.read_uri(fit.scree_png)}),
            **runtime_metadata(fit),
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
    matrix = spark.run_job(PcaProjectParams(lake_root=lake.spark_root), context)
    schema = TableSchema(columns=[TableColumn(c, "string" if c in ("path", "label", "split") else "double")
                                  for c in matrix.columns])
    return MaterializeResult(
        data_version=DataVersion(matrix.inputs[:16]),
        metadata={
            **standard_metadata(matrix.rows, schema, matrix.csv),
            "unchanged": matrix.unchanged,
            "rows": matrix.rows,
            "k": matrix.k,
            "csv": MetadataValue.path(matrix.csv),
            "scatter_plot": png_markdown({"pc_1 vs pc_2 by class": lake.read_uri(matrix.scatter_png)}),
            "seconds": matrix.seconds,
            **runtime_metadata(matrix),
        },
    )
