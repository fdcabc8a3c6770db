"""pca_model and pca_matrix: a pyspark.ml PCA of the features, and the CSV matrix.

Both are files versioned by their Dagster data version, a digest of what they are
computed from (``models/pca_model/<version>/``, ``exports/pca_matrix/<version>/``): a
materialization whose inputs did not change keeps the current files. A refit after new
classes adds their moments to those the previous model kept (``_extendable``)."""

from typing import Optional

import pyarrow as pa
import pyarrow.dataset as ds
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AutomationCondition,
    Config,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    asset,
)
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from ...partitions import fruit_classes
from ...resources import LakeResource, SparkRuntime
from ...resources.io_manager import CSV_MATRIX, PCA_MODEL, STORAGE
from ...resources.spark import final_unless_transient
from ...spark_jobs.contracts import MOMENTS_FILE, TRAIN_SPLIT, PcaFitParams, PcaProjectParams
from ...spark_jobs.pca_model import check_settings
from ...spark_jobs.tables import PARTITION
from ..features.assets import IMAGE_FEATURES
from ..shared import (
    KEPT,
    LAKE_ASSET,
    SPARK_POOL,
    SPARK_RETRY,
    digest,
    kept,
    png_markdown,
    previous_materialization,
    runtime_metadata,
)
from . import checks

PCA_MODEL_KEY = AssetKey("pca_model")
PCA_MATRIX = AssetKey("pca_matrix")
FIT_FORMAT = 1  # part of the model's version: bump when the same features and settings would fit another model
PROJECTION_FORMAT = 3  # part of the matrix's version: bump when the same model would write another CSV
CSV_NAME = "pca_matrix.csv"
REFIT = AutomationCondition.eager()  # refit once features changed and every class has them (automation sensor)
SPARK_ASSET = {"pool": SPARK_POOL, "retry_policy": SPARK_RETRY, "automation_condition": REFIT, **LAKE_ASSET}
MODEL_FOLDER = "models/pca_model"  # then <data version>/
MATRIX_FOLDER = "exports/pca_matrix"  # then <data version>/pca_matrix.csv


class PCAConfig(Config):
    """Either a fixed ``k`` (1..1280), or the smallest k reaching ``variance_target``;
    ``force`` refits from scratch even when no feature and no setting changed."""

    k: Optional[int] = None
    variance_target: Optional[float] = 0.95
    force: bool = False


@asset(key=PCA_MODEL_KEY, deps=[IMAGE_FEATURES], kinds={"spark", "pyspark.ml"}, tags={"stage": "model"},
       metadata={STORAGE: PCA_MODEL}, check_specs=[AssetCheckSpec("variance_target_reached", asset=PCA_MODEL_KEY,
                                                                   blocking=True)], **SPARK_ASSET)
def pca_model(context: AssetExecutionContext, config: PCAConfig, spark: SparkRuntime, lake: LakeResource) -> MaterializeResult:
    """A pyspark.ml PCAModel of the Training images of every class with features (every
    image when there are fewer than 2 Training ones); refitted only when the features or
    the settings changed."""
    with final_unless_transient():
        target = None if config.k is not None else config.variance_target
        check_settings(config.k, target)
        lake.check_ready()
        table = lake.delta_table(IMAGE_FEATURES)
        if table is None:
            raise Failure("No class has image_features yet: materialize image_features first.", allow_retries=False)
        present = {p[PARTITION] for p in table.partitions()}
        registered = sorted(context.instance.get_dynamic_partitions(fruit_classes.name))
        classes = [c for c in registered if c in present]
        if not classes:
            raise Failure("No registered fruit class has image_features: materialize image_features first.",
                          allow_retries=False)
        if missing := [c for c in registered if c not in present]:
            context.log.warning(f"{len(missing)} class(es) without features, left out: {missing[:20]}")
        version = table.version()
        data_version = digest({"features": version, "classes": classes, "k": config.k, "target": target, "format": FIT_FORMAT})
        key = f"{MODEL_FOLDER}/{data_version}"
        previous = previous_materialization(context, PCA_MODEL_KEY)
        if previous and previous[0] == data_version and lake.store().exists(key) and not config.force:
            metadata = kept(previous[1])
        else:
            base = None if config.force else _extendable(lake, table, previous, classes)
            fit = spark.run_job(PcaFitParams(
                image_features=lake.spark_uri(lake.table_key(IMAGE_FEATURES)), version=version, classes=classes,
                model_dir=lake.spark_uri(key), k=config.k, variance_target=target,
                extends=lake.spark_uri(lake.key_of(base["dagster/uri"])) if base else None,
                extends_classes=base["classes"] if base else []), context)
            metadata = {
                "dagster/uri": lake.uri(key), KEPT: False, "k": fit.k, "fitted_on": fit.fitted_on,
                "read_classes": fit.read_classes,
                "variance_target": MetadataValue.float(float(target)) if target else MetadataValue.null(),
                "cumulative_variance": MetadataValue.float(float(fit.cumulative_variance[-1])),
                "explained_variance": MetadataValue.json(fit.explained_variance),
                "train_rows": fit.train_rows, "features_version": version, "classes": MetadataValue.json(classes),
                "class_count": len(classes), "seconds": MetadataValue.float(fit.seconds),
                "scree_plot": png_markdown({"Scree and cumulative variance": fit.scree_png}), **runtime_metadata(fit),
            }
        outcome = checks.variance_target_reached(checks.FittedModel(
            metadata["k"], target, _value(metadata["cumulative_variance"])))
        return MaterializeResult(
            data_version=DataVersion(data_version), metadata=metadata,
            check_results=[AssetCheckResult(check_name="variance_target_reached", passed=outcome.passed,
                                            metadata=outcome.metadata)],
        )


def _extendable(lake: LakeResource, table: DeltaTable, previous: tuple | None, classes: list[str]) -> dict | None:
    """The metadata of the previous fit if this one can extend it (add the moments of the
    classes it lacks to its own): it was fitted on the Training images of classes that
    are all still fitted, whose feature files are the same now, and it kept its moments."""
    fitted = previous[1] if previous else {}
    fitted_classes = fitted.get("classes")
    if fitted.get("fitted_on") != TRAIN_SPLIT or not fitted_classes or not set(fitted_classes) <= set(classes):
        return None
    try:
        if not lake.store().exists(f"{lake.key_of(fitted['dagster/uri'])}/{MOMENTS_FILE}"):
            return None
        then = lake.delta_table(IMAGE_FEATURES, fitted["features_version"])
    except (ValueError, DeltaError):  # fitted in another lake, or that version's log was cleaned up
        return None
    same = then is not None and _files_of(then, fitted_classes) == _files_of(table, fitted_classes)
    return fitted if same else None


def _files_of(table: DeltaTable, classes: list[str]) -> set[str]:
    """The data files of ``classes`` in ``table`` (Delta never rewrites a file in place)."""
    actions = pa.table(table.get_add_actions(flatten=True))
    wanted = set(classes)
    return {path for path, label in zip(actions.column("path").to_pylist(), actions.column(f"partition.{PARTITION}").to_pylist())
            if label in wanted}


def _value(value):
    return value.value if isinstance(value, MetadataValue) else value


@asset(key=PCA_MATRIX, deps=[PCA_MODEL_KEY, IMAGE_FEATURES], kinds={"spark", "csv"}, tags={"stage": "model"},
       metadata={STORAGE: CSV_MATRIX},
       check_specs=[AssetCheckSpec("one_row_per_feature_row_and_k_columns", asset=PCA_MATRIX, blocking=True)],
       **SPARK_ASSET)
def pca_matrix(context: AssetExecutionContext, spark: SparkRuntime, lake: LakeResource) -> MaterializeResult:
    """Every image (both splits) of the model's classes projected on its components: ONE
    CSV file ``path,label,split,pc_1..pc_k``, rows ordered by split, label and path."""
    with final_unless_transient():
        lake.check_ready()
        model = previous_materialization(context, PCA_MODEL_KEY)
        if model is None:
            raise Failure("pca_model has not been materialized yet.", allow_retries=False)
        model_version, fitted = model
        version, classes = fitted["features_version"], fitted["classes"]
        data_version = digest({"model": model_version, "format": PROJECTION_FORMAT})
        key = f"{MATRIX_FOLDER}/{data_version}/{CSV_NAME}"
        previous = previous_materialization(context, PCA_MATRIX)
        if previous and previous[0] == data_version and lake.store().exists(key):
            metadata = kept(previous[1])
        else:
            project = spark.run_job(PcaProjectParams(
                image_features=lake.spark_uri(lake.table_key(IMAGE_FEATURES)), version=version, classes=classes,
                model_dir=lake.spark_uri(lake.key_of(fitted["dagster/uri"])), csv=lake.spark_uri(key)), context)
            schema = TableSchema(columns=[TableColumn(c, "string" if c in ("path", "label", "split") else "float")
                                          for c in project.columns])
            metadata = {
                "dagster/uri": lake.uri(key), "dagster/row_count": MetadataValue.int(project.rows),
                "dagster/column_schema": schema, KEPT: False, "k": project.k, "columns": MetadataValue.json(project.columns),
                "scatter_plot": png_markdown({"pc_1 vs pc_2 by class": project.scatter_png}),
                "seconds": MetadataValue.float(project.seconds), **runtime_metadata(project),
            }
        feature_rows = lake.delta_table(IMAGE_FEATURES, version).to_pyarrow_dataset().count_rows(
            filter=ds.field(PARTITION).isin(classes))
        outcome = checks.one_row_per_feature_row_and_k_columns(checks.WrittenMatrix(
            rows=_value(metadata["dagster/row_count"]), columns=_value(metadata["columns"]), k=metadata["k"],
            feature_rows=feature_rows))
        return MaterializeResult(
            data_version=DataVersion(data_version), metadata=metadata,
            check_results=[AssetCheckResult(check_name="one_row_per_feature_row_and_k_columns", passed=outcome.passed,
                                            metadata=outcome.metadata)],
        )
