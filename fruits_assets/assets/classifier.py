"""fruit_classifier: a logistic regression on the PCA matrix, scored on the Test split."""


import pandas as pd
from dagster import AssetExecutionContext, AutomationCondition, Config, DataVersion, MaterializeResult, MetadataValue, TableColumn, TableRecord, TableSchema, asset

from .. import classifier
from ..resources import LakeResource
from ..spark_jobs import plots
from .common import LAKE_ASSET, png_markdown

PER_CLASS_SCHEMA = TableSchema(
    columns=[
        TableColumn("class", "string"),
        TableColumn("test_images", "int"),
        TableColumn("correct", "int"),
        TableColumn("accuracy", "float"),
    ]
)


class ClassifierConfig(Config):
    """The accuracy floor of the warning check: ``chance_multiple`` x chance (capped
    halfway between chance and perfect when there are few classes)."""

    chance_multiple: float = 5.0
    seed: int = 0


@asset(
    kinds={"scikit-learn"},
    tags={"stage": "model"},
    **LAKE_ASSET,
    automation_condition=AutomationCondition.eager(),
)
def fruit_classifier(
    context: AssetExecutionContext, config: ClassifierConfig, pca_matrix: pd.DataFrame, lake: LakeResource
) -> MaterializeResult:
    """Multinomial logistic regression trained on the Training split of the PCA matrix,
    evaluated on its Test split; the model is saved in the lake. Kept as it is when
    neither the matrix version nor the config changed."""
    trained_on = {"pca_matrix": lake.current_version("pca_matrix"), **config.model_dump()}
    current = lake.current_manifest("fruit_classifier")
    if current and current[1].get("trained_on") == trained_on:
        version, kept = current
        return MaterializeResult(
            data_version=DataVersion(version),
            metadata={"unchanged": True, "test_accuracy": MetadataValue.float(round(kept["accuracy"], 4)),
                      "classes": kept["classes"], "dagster/uri": lake.store().uri(version)},
        )
    model, report = classifier.train(pca_matrix, seed=config.seed)
    floor = report.floor(config.chance_multiple)
    manifest = {
        "accuracy": report.accuracy,
        "top_k_accuracy": report.top_k_accuracy,
        "top_k": report.top_k,
        "chance": report.chance,
        "accuracy_floor": floor,
        "classes": len(report.classes),
        "train_rows": report.train_rows,
        "test_rows": report.test_rows,
        "test_only_classes": report.test_only_classes,
        "trained_on": trained_on,
    }
    version = lake.commit_objects("fruit_classifier", {classifier.MODEL_FILE: model.to_bytes()}, manifest)
    uri = lake.store().uri(version)
    if report.test_only_classes:
        context.log.warning(f"Classes with Test images but no Training images, not scored: {report.test_only_classes}")
    return MaterializeResult(
        data_version=DataVersion(version),
        metadata={
            "unchanged": False,
            "dagster/uri": uri,
            "test_accuracy": MetadataValue.float(round(report.accuracy, 4)),
            f"top_{report.top_k}_accuracy": MetadataValue.float(round(report.top_k_accuracy, 4)),
            "accuracy_floor": MetadataValue.float(round(floor, 4)),
            "chance": MetadataValue.float(round(report.chance, 4)),
            "classes": len(report.classes),
            "train_rows": report.train_rows,
            "test_rows": report.test_rows,
            "test_only_classes": MetadataValue.json(report.test_only_classes),
            "test_only_class_count": len(report.test_only_classes),
            "per_class_accuracy": MetadataValue.table(
                [TableRecord({"class": c.label, "test_images": c.test_images, "correct": c.correct,
                              "accuracy": round(c.accuracy, 4)}) for c in report.per_class],
                schema=PER_CLASS_SCHEMA,
            ),
            "confusion_matrix": png_markdown(
                {"Confusion matrix (Test split)": plots.confusion(report.confusion, report.classes, report.accuracy)}
            ),
        },
    )
