"""fruit_classifier as an asset: trained on the CSV matrix the latest pca_matrix
materialization names, saved under its data version, kept when nothing changed, loaded back
through the IO manager; its warning check says how it was evaluated."""

import pandas as pd
import pytest
from dagster import AssetMaterialization, DagsterInstance

from fruits_assets.defs.pca.assets import PCA_MATRIX
from fruits_assets.defs.recognition.assets import FRUIT_CLASSIFIER, MODEL_FOLDER
from fruits_assets.defs.recognition.classifier import FruitClassifier
from fruits_assets_tests.defs.recognition.test_classifier import CLASSES, matrix, split_exclusive

pytestmark = pytest.mark.fast


def _matrix_materialized(instance, lake, frame: pd.DataFrame, version: str) -> None:
    """A pca_matrix materialization naming a CSV of ``frame``, as the asset records one."""
    csv = lake / "exports" / "pca_matrix" / version / "pca_matrix.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(csv, index=False)
    instance.report_runless_asset_event(AssetMaterialization(
        asset_key=PCA_MATRIX, metadata={"dagster/uri": str(csv)}, tags={"dagster/data_version": version}))


def _train(defs, instance):
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance, asset_selection=[FRUIT_CLASSIFIER])
    (materialization,) = result.asset_materializations_for_node("fruit_classifier")
    (check,) = result.get_asset_check_evaluations()
    return {k: v.value for k, v in materialization.metadata.items()}, check


def test_the_classifier_is_saved_reported_kept_and_loaded_back(project, tmp_path):
    lake = tmp_path / "lake"
    defs, instance = project(lake), DagsterInstance.ephemeral()
    _matrix_materialized(instance, lake, matrix(), "v1")
    metadata, check = _train(defs, instance)
    assert metadata["evaluation"] == "test split" and metadata["accuracy"] > 0.9 and not metadata["unchanged"]
    assert metadata["top_5_accuracy"] >= metadata["accuracy"] and metadata["test_only_classes"] == ["Kiwi Test Only"]
    assert [r.data["class"] for r in metadata["per_class_accuracy"].records] == CLASSES
    assert "data:image/png;base64," in metadata["confusion_matrix"]
    assert check.passed and check.severity.value == "WARN"
    assert [p.name for p in (lake / MODEL_FOLDER).iterdir()] == [metadata["dagster/uri"].split("/")[-2]]
    loaded = defs.load_asset_value(FRUIT_CLASSIFIER, instance=instance)
    assert isinstance(loaded, FruitClassifier) and loaded.classes == CLASSES

    kept, check = _train(defs, instance)
    assert kept["unchanged"] and kept["dagster/uri"] == metadata["dagster/uri"] and check.passed
    _matrix_materialized(instance, lake, matrix(seed=1), "v2")
    retrained, _ = _train(defs, instance)
    assert not retrained["unchanged"] and retrained["dagster/uri"] != metadata["dagster/uri"]


def test_split_exclusive_classes_are_evaluated_on_a_hold_out(project, tmp_path):
    lake = tmp_path / "lake"
    defs, instance = project(lake), DagsterInstance.ephemeral()
    _matrix_materialized(instance, lake, split_exclusive(), "v1")
    metadata, check = _train(defs, instance)
    assert metadata["evaluation"] == "hold-out" and metadata["evaluated"] and metadata["accuracy"] > 0.9
    assert "0 of the 6 trained classes" in metadata["evaluation_reason"] and check.passed


def test_a_single_class_is_saved_and_its_check_says_it_was_not_evaluated(project, tmp_path):
    lake = tmp_path / "lake"
    defs, instance = project(lake), DagsterInstance.ephemeral()
    _matrix_materialized(instance, lake, matrix(test_only=None, classes=["Solo Fruit"]), "v1")
    metadata, check = _train(defs, instance)
    assert metadata["evaluation"] == "none" and not metadata["evaluated"] and metadata["accuracy"] is None
    assert not check.passed and "nothing to tell apart" in check.metadata["reason"].value


def test_corrupted_labels_fail_the_accuracy_warning(project, tmp_path):
    corrupted = matrix(test_only=None)
    training = corrupted["split"] == "Training"
    corrupted.loc[training, "label"] = corrupted.loc[training, "label"].sample(frac=1.0, random_state=3).to_numpy()
    lake = tmp_path / "lake"
    defs, instance = project(lake), DagsterInstance.ephemeral()
    _matrix_materialized(instance, lake, corrupted, "v1")
    _, check = _train(defs, instance)
    assert not check.passed and check.metadata["accuracy"].value <= check.metadata["floor"].value
