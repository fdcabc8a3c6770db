"""The definitions as Dagster 1.13 loads them from ``defs/``: every asset with its owners,
kinds and storage, its per-class checks, the named jobs, the sensor and the schedule."""

import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, Definitions

from fruits_assets.definitions import defs
from fruits_assets.partitions import fruit_classes
from fruits_assets.resources.io_manager import STORAGE
from fruits_assets_tests.conftest import REPO, project_env

pytestmark = pytest.mark.fast

ASSETS = {"raw_images", "rejected_images", "mobilenet_v2", "image_features", "pca_model", "pca_matrix", "fruit_classifier"}
PER_CLASS_CHECKS = {
    "raw_images": {"every_file_accounted_for", "unique_image_ids"},
    "image_features": {"one_feature_row_per_image", "features_are_1280_finite_values", "features_not_constant",
                       "features_from_imagenet_weights"},
}


@pytest.fixture(scope="module")
def loaded() -> Definitions:
    found = defs()
    Definitions.validate_loadable(found)
    return found


def test_every_asset_is_declared_once_with_its_owners_kinds_stage_and_storage(loaded):
    specs = {s.key.path[-1]: s for s in loaded.resolve_all_asset_specs()}
    assert set(specs) == ASSETS
    assert {d.asset_key.path[-1] for d in specs["image_features"].deps} == {"raw_images", "mobilenet_v2"}
    assert {d.asset_key.path[-1] for d in specs["pca_matrix"].deps} == {"pca_model", "image_features"}
    for name, spec in specs.items():
        assert spec.owners and spec.kinds and spec.tags.get("stage") and spec.metadata.get(STORAGE), name
    for name in ("raw_images", "rejected_images", "image_features"):
        assert specs[name].partitions_def == fruit_classes and "delta" in specs[name].kinds


def test_per_class_checks_are_partitioned_and_blocking_except_the_weights_warning(loaded):
    graph = loaded.resolve_asset_graph()
    found = {}
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        found.setdefault(key.asset_key.path[-1], {})[key.name] = spec
    for asset, names in PER_CLASS_CHECKS.items():
        assert set(found[asset]) == names
        for name, spec in found[asset].items():
            assert spec.partitions_def == fruit_classes
            assert spec.blocking == (name != "features_from_imagenet_weights"), name
    assert set(found["pca_model"]) == {"variance_target_reached"}
    assert set(found["pca_matrix"]) == {"one_row_per_feature_row_and_k_columns"}
    assert set(found["fruit_classifier"]) == {"accuracy_above_floor"}


def test_the_named_jobs_sensor_and_schedule(loaded):
    assert {job.name for job in loaded.jobs} == {"images_by_class", "refit_model", "vacuum_lake", "migrate_lake"}
    images = loaded.resolve_job_def("images_by_class")
    assert images.partitions_def == fruit_classes
    assert {k.path[-1] for k in images.asset_layer.executable_asset_keys} == {
        "raw_images", "rejected_images", "mobilenet_v2", "image_features"}
    refit = loaded.resolve_job_def("refit_model")
    assert {k.path[-1] for k in refit.asset_layer.executable_asset_keys} == {"pca_model", "pca_matrix", "fruit_classifier"}
    (sensor,) = loaded.sensors
    assert sensor.name == "fruit_class_sensor" and sensor.job_name == "images_by_class"
    (schedule,) = loaded.schedules
    assert schedule.name == "weekly_vacuum" and schedule.job_name == "vacuum_lake"


def test_spark_steps_retry_transient_failures_and_share_the_spark_pool(loaded):
    graph = loaded.resolve_asset_graph()
    for name in ("raw_images", "image_features", "pca_model", "pca_matrix"):
        node = graph.get(AssetKey(name)).assets_def
        assert node.op.retry_policy is not None and node.op.retry_policy.max_retries >= 1, name
        assert node.op.pool == "spark", name


def test_dg_lists_and_checks_the_definitions(tmp_path):
    dg = Path(sys.executable).parent / "dg"
    env = project_env(DAGSTER_HOME=str(tmp_path))
    checked = subprocess.run([str(dg), "check", "defs"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    listed = subprocess.run([str(dg), "list", "defs"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for name in ("raw_images", "pca_matrix", "images_by_class", "fruit_class_sensor", "weekly_vacuum"):
        assert name in listed.stdout, name
