"""PCA refits by declarative automation once every class has (new) features."""

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, evaluate_automation_conditions

from fruits_assets.definitions import defs

pytestmark = pytest.mark.fast

CLASSES = ["Apple 6", "Cherry 1"]
PCA = {AssetKey("pca_model")}


def _materialize(instance, asset: str, partition: str | None = None) -> None:
    instance.report_runless_asset_event(AssetMaterialization(asset_key=asset, partition=partition))


def _requested(instance, cursor):
    result = evaluate_automation_conditions(defs=defs(), instance=instance, cursor=cursor)
    return {r.key for r in result.results if r.true_subset.size}, result.cursor


def test_pca_refits_when_all_classes_have_features_and_again_after_a_change():
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", CLASSES)
    for cls in CLASSES:
        _materialize(instance, "raw_images", cls)
    _materialize(instance, "image_features", CLASSES[0])
    requested, cursor = _requested(instance, None)
    assert not requested & PCA, "one class still lacks features: no refit yet"

    _materialize(instance, "image_features", CLASSES[1])
    requested, cursor = _requested(instance, cursor)
    assert PCA <= requested
    for asset in ("pca_model", "pca_matrix"):
        _materialize(instance, asset)
    requested, cursor = _requested(instance, cursor)
    assert not requested & PCA, "nothing changed since the refit"

    _materialize(instance, "image_features", CLASSES[0])  # a partial backfill of one class
    requested, cursor = _requested(instance, cursor)
    assert PCA <= requested
