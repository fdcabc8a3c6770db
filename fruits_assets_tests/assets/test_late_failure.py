"""A single-run backfill that fails on a late class keeps the classes committed before
it, recorded as materialized, and a retry does only the rest (dagster-io/dagster#21072)."""

import shutil

import pytest
from dagster import AssetKey, DagsterInstance, Definitions

from fruits_assets.assets import image_features, mobilenet_v2, raw_images
from fruits_assets.partitions import range_tags
from fruits_assets.resources import FruitSource, LakeIOManager, LakeResource, LocalSpark, MobileNetResource
from fruits_assets_tests.conftest import RANDOM_MODEL, current_dir, seed_lake

pytestmark = pytest.mark.slow

CLASSES = ["Apple Red 1", "Cherry 1", "Tomato 1", "Tomato 2"]
FEATURES = AssetKey("image_features")
INGEST = [AssetKey("raw_images"), AssetKey("rejected_images")]


def test_late_failure_keeps_committed_classes_and_the_retry_does_only_the_rest(tmp_path, real_sample, model_cache, spark):
    lake = seed_lake(tmp_path / "lake", model_cache)
    spark_runtime, lake_resource, model = LocalSpark(master="local[2]"), LakeResource(root=str(lake)), MobileNetResource(**RANDOM_MODEL)
    defs = Definitions(
        assets=[raw_images, mobilenet_v2, image_features],
        resources={"spark": spark_runtime, "lake": lake_resource, "source": FruitSource(root=str(real_sample)),
                   "model": model, "lake_io_manager": LakeIOManager(lake=lake_resource, spark=spark_runtime, model=model)},
    )
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", CLASSES)
    job = defs.resolve_implicit_global_asset_job_def()
    tags = range_tags(CLASSES[0], CLASSES[-1])
    one_class_per_commit = {"ops": {"image_features": {"config": {"rows_per_commit": 1}}}}
    assert job.execute_in_process(instance=instance, asset_selection=INGEST, tags=tags).success

    late = current_dir(spark, lake, "raw_images", CLASSES[-1])
    for part in late.glob("part-*"):
        part.unlink()  # the last class's images can no longer be read
    failed = job.execute_in_process(instance=instance, asset_selection=[FEATURES], tags=tags,
                                    run_config=one_class_per_commit, raise_on_error=False)
    assert not failed.success
    assert instance.get_materialized_partitions(FEATURES) == set(CLASSES[:-1])

    shutil.rmtree(late)  # repaired: the class is ingested again by the retry
    retry = job.execute_in_process(instance=instance, asset_selection=[*INGEST, FEATURES], tags=tags,
                                   run_config=one_class_per_commit)
    ingest = retry.asset_materializations_for_node("raw_images")[0].metadata
    assert ingest["unchanged_class_count"].value == len(CLASSES) - 1
    features = retry.asset_materializations_for_node("image_features")[0].metadata
    late_rows = lake_resource.manifest("raw_images", CLASSES[-1])["rows"]
    assert features["inferred"].value == late_rows > 0 and features["unchanged_class_count"].value == len(CLASSES) - 1
    assert instance.get_materialized_partitions(FEATURES) == set(CLASSES)
