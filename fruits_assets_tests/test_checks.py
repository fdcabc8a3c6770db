"""Asset checks on good data, and the PCA variance check on a corrupted manifest."""

import json
import shutil

import pytest
from dagster import AssetSelection, DagsterInstance, Definitions, define_asset_job
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from fruits_assets import checks
from fruits_assets.assets import ALL_ASSETS
from fruits_assets.partitions import fruit_classes
from fruits_assets.resources import FruitSource, LakeIOManager, LakeResource, LocalSpark, MobileNetResource
from fruits_assets.spark_jobs.layout import MODEL_CACHE
from fruits_assets_tests.conftest import RANDOM_MODEL

CLASSES = ["Cherry Sour 1", "Tomato Cherry Yellow 1"]
PARTITIONED = ("raw_images", "image_features")


@pytest.fixture
def world(tmp_path, real_sample, model_cache, spark):
    source, lake = tmp_path / "source", tmp_path / "lake"
    for split in ("Training", "Test"):
        for cls in CLASSES:
            shutil.copytree(real_sample / split / cls, source / split / cls)
    shutil.copytree(model_cache, lake / MODEL_CACHE)
    lake_resource = LakeResource(root=str(lake))
    local = LocalSpark(master="local[2]")
    defs = Definitions(
        assets=ALL_ASSETS,
        asset_checks=checks.ALL_CHECKS,
        jobs=[
            define_asset_job("images", AssetSelection.assets("raw_images", "image_features")),
            define_asset_job("pca", AssetSelection.assets("pca_model", "pca_matrix")),
        ]
        + [
            define_asset_job(
                f"check_{c.check_key.name}",
                AssetSelection.checks(c),
                partitions_def=fruit_classes if c.check_key.asset_key.path[-1] in PARTITIONED else None,
            )
            for c in checks.ALL_CHECKS
        ],
        resources={
            "lake": lake_resource,
            "source": FruitSource(root=str(source)),
            "spark": local,
            "model": MobileNetResource(**RANDOM_MODEL),
            "lake_io_manager": LakeIOManager(lake=lake_resource, spark=local),
        },
    )
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", CLASSES)
    tags = {ASSET_PARTITION_RANGE_START_TAG: CLASSES[0], ASSET_PARTITION_RANGE_END_TAG: CLASSES[-1]}
    images = defs.resolve_job_def("images").execute_in_process(instance=instance, tags=tags)
    pca = defs.resolve_job_def("pca").execute_in_process(instance=instance)
    evaluations = images.get_asset_check_evaluations() + pca.get_asset_check_evaluations()
    return {"defs": defs, "instance": instance, "source": source, "lake": lake, "spark": spark,
            "evaluations": {e.check_name: e for e in evaluations}}


def _run_check(world, name: str, partition: str | None = CLASSES[0]):
    job = world["defs"].resolve_job_def(f"check_{name}")
    result = job.execute_in_process(instance=world["instance"], partition_key=partition, raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_all_checks_pass_on_good_data_except_the_weights_warning(world):
    evaluations = world["evaluations"]
    assert set(evaluations) == {c.check_key.name for c in checks.ALL_CHECKS}
    failed = {name for name, e in evaluations.items() if not e.passed}
    assert failed == {"features_from_imagenet_weights"}
    assert evaluations["features_from_imagenet_weights"].severity.value == "WARN"


def test_variance_target_not_reached_fails(world):
    manifest = world["lake"] / "meta" / "pca_model" / "_all.json"
    data = json.loads(manifest.read_text())
    data["cumulative_variance"][-1] = data["variance_target"] - 0.1
    manifest.write_text(json.dumps(data))
    assert not _run_check(world, "variance_target_reached", partition=None).passed
