"""A lake the previous code wrote (versioned folders, ``_COMMITTED`` manifests) is refused
with what to do, converted once by ``migrate_lake``, and the next run reuses its features."""

import shutil
from pathlib import Path

from dagster import DagsterInstance
from deltalake import DeltaTable

from fruits_assets.partitions import range_tags
from fruits_assets_tests.corpus import tiny_source

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "versioned_lake"
CLASSES = ["Synthetic Apple Red", "Synthetic Banana"]


def _run(defs, instance, job: str, **kwargs):
    return defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False, **kwargs)


def test_an_old_lake_is_refused_then_migrated_once_and_its_features_reused(project, tmp_path, model_cache):
    lake = tmp_path / "lake"
    shutil.copytree(FIXTURE, lake)
    shutil.copytree(model_cache, lake / "models" / "mobilenet_v2")
    source = tiny_source(tmp_path / "source")
    defs, instance = project(lake, source), DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", CLASSES)
    tags = range_tags(CLASSES[0], CLASSES[-1])

    refused = _run(defs, instance, "images_by_class", tags=tags)
    assert not refused.success
    failures = refused.get_step_failure_events()
    assert failures and all("fruits-assets migrate-lake" in f.event_specific_data.error.message for f in failures)
    assert not (lake / "tables").exists(), "nothing was written"

    assert _run(defs, instance, "migrate_lake").success
    tables = {name: DeltaTable(str(lake / "tables" / name)) for name in ("raw_images", "rejected_images", "image_features")}
    counts = {name: table.to_pyarrow_table().num_rows for name, table in tables.items()}
    assert counts == {"raw_images": 8, "rejected_images": 1, "image_features": 8}
    features = tables["image_features"].to_pandas()
    assert set(features["model"]) == {"litert-random-seed0-100-224"} and set(features["label"]) == set(CLASSES)
    assert tables["image_features"].history()[0]["userMetadata"].count("data/features")
    assert (lake / "data" / "raw" / "images").is_dir(), "the old folders are left as they were"
    assert not _run(defs, instance, "migrate_lake").success, "once: a second migration is refused"

    run = _run(defs, instance, "images_by_class", tags=tags)
    assert run.success
    ingest = run.asset_materializations_for_node("raw_images")[0].metadata
    assert ingest["ingested_classes"].value == 2, "the old layout kept no modification times: read again"
    featurized = run.asset_materializations_for_node("image_features")[0].metadata
    assert featurized["inferred"].value == 0 and featurized["reused"].value == 8, "no image goes through the network again"
    assert all(e.passed for e in run.get_asset_check_evaluations() if e.check_name != "features_from_imagenet_weights")
