"""fruit_classifier: a logistic regression on the PCA matrix, evaluated on the Test split
or, where the split's layout does not allow it, on a hold-out of the Training rows."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
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
    TableRecord,
    TableSchema,
    asset,
)

from ...resources import LakeResource
from ...resources.io_manager import PICKLE, STORAGE, read_matrix
from ...resources.spark import final_unless_transient
from ..pca.assets import PCA_MATRIX
from ..shared import KEPT, LAKE_ASSET, digest, kept, png_bytes_markdown, previous_materialization
from . import checks, classifier

FRUIT_CLASSIFIER = AssetKey("fruit_classifier")
TRAIN_FORMAT = 1  # part of the model's version: bump when the same matrix and config would train another model
MODEL_FOLDER = "models/fruit_classifier"  # then <data version>/model.joblib
MODEL_FILE = "model.joblib"
PER_CLASS_SCHEMA = TableSchema(columns=[
    TableColumn("class", "string"), TableColumn("evaluated_images", "int"), TableColumn("correct", "int"),
    TableColumn("accuracy", "float"),
])
CHECK = "accuracy_above_floor"


class ClassifierConfig(Config):
    """The accuracy floor of the warning check: ``chance_multiple`` x chance (capped
    halfway between chance and perfect when there are few classes); ``seed`` of the fit
    and of the hold-out."""

    chance_multiple: float = 5.0
    seed: int = 0


@asset(key=FRUIT_CLASSIFIER, deps=[PCA_MATRIX], kinds={"scikit-learn"}, tags={"stage": "model"},
       metadata={STORAGE: PICKLE}, automation_condition=AutomationCondition.eager(),
       check_specs=[AssetCheckSpec(CHECK, asset=FRUIT_CLASSIFIER)], **LAKE_ASSET)
def fruit_classifier(context: AssetExecutionContext, config: ClassifierConfig, lake: LakeResource) -> MaterializeResult:
    """Multinomial logistic regression on the PCA matrix; evaluated as its split allows
    (``classifier.plan``) and saved in the lake. Kept as it is when neither the matrix nor
    the config changed."""
    with final_unless_transient():
        matrix = previous_materialization(context, PCA_MATRIX)
        if matrix is None:
            raise Failure("pca_matrix has not been materialized yet.", allow_retries=False)
        data_version = digest({"matrix": matrix[0], "config": config.model_dump(), "format": TRAIN_FORMAT})
        key = f"{MODEL_FOLDER}/{data_version}/{MODEL_FILE}"
        previous = previous_materialization(context, FRUIT_CLASSIFIER)
        if previous and previous[0] == data_version and lake.store().exists(key):
            metadata = kept(previous[1])
            passed = previous[1]["check_passed"]
            outcome = checks.Outcome(passed, {"evaluation": metadata["evaluation"], "kept": True})
        else:
            model, report = classifier.train(read_matrix(lake.store(), lake.key_of(matrix[1]["dagster/uri"])), config.seed)
            lake.store().write_bytes(key, model.to_bytes())
            floor = report.floor(config.chance_multiple)
            outcome = checks.accuracy_above_floor(report, floor)
            if report.test_only_classes:
                context.log.warning(f"{len(report.test_only_classes)} class(es) with Test images but no Training images, "
                                    f"not scored: {report.test_only_classes[:20]}")
            metadata = {"dagster/uri": lake.uri(key), KEPT: False, **_report_metadata(report, floor),
                        "check_passed": outcome.passed}
        return MaterializeResult(
            data_version=DataVersion(data_version), metadata=metadata,
            check_results=[AssetCheckResult(check_name=CHECK, passed=outcome.passed, severity=AssetCheckSeverity.WARN,
                                            metadata=outcome.metadata)],
        )


def _report_metadata(report: classifier.ClassifierReport, floor: float) -> dict:
    from ...spark_jobs import plots  # matplotlib: only when a model is trained

    metadata = {
        "evaluation": report.evaluation, "evaluated": report.evaluated, "evaluation_reason": report.reason,
        "classes": len(report.classes), "train_rows": report.train_rows, "evaluated_rows": report.evaluated_rows,
        "chance": MetadataValue.float(round(report.chance, 4)), "accuracy_floor": MetadataValue.float(round(floor, 4)),
        "test_only_classes": MetadataValue.json(report.test_only_classes),
    }
    if not report.evaluated:
        return {**metadata, "accuracy": MetadataValue.null()}
    return {
        **metadata,
        "accuracy": MetadataValue.float(round(report.accuracy, 4)),
        f"top_{report.top_k}_accuracy": MetadataValue.float(round(report.top_k_accuracy, 4)),
        "per_class_accuracy": MetadataValue.table(
            [TableRecord({"class": c.label, "evaluated_images": c.evaluated_images, "correct": c.correct,
                          "accuracy": round(c.accuracy, 4) if c.evaluated_images else None})
             for c in report.per_class],
            schema=PER_CLASS_SCHEMA,
        ),
        "confusion_matrix": png_bytes_markdown({
            "Confusion matrix": plots.confusion(report.confusion, report.classes, report.accuracy, report.evaluation),
        }),
    }
