"""A single-run backfill of 3 changed classes out of 24: one run, 3 partitions
rewritten (their features reused, not inferred again), the 21 others byte-identical. Then the first model on all 24:
PCA and fruit_classifier, whose Test accuracy must clear its check's floor."""

import hashlib
import os
import shutil
from pathlib import Path

from dagster import AssetKey, DagsterInstance, Definitions, RunsFilter
import pytest

from fruits_assets.assets import fruit_classifier, image_features, pca_matrix, pca_model, raw_images
from fruits_assets.checks import accuracy_above_floor
from fruits_assets.partitions import range_tags
from fruits_assets.resources import FruitSource, LakeIOManager, LakeResource, LocalSpark, MobileNetResource
from fruits_assets.spark_jobs.layout import PLOTS, TABLES
from fruits_assets_tests.conftest import RANDOM_MODEL

pytestmark = pytest.mark.slow

PARTITIONED = ("raw_images", "rejected_images", "image_features")


def _class_files(lake: Path, cls: str) -> dict[str, str]:
    """SHA-256 of every file that belongs to one class's partitions, by relative path."""
    roots = [lake / TABLES[t] / cls for t in PARTITIONED]
    roots += [lake / PLOTS / "raw_images"]
    files = {}
    for root in roots:
        for path in root.rglob("*") if root.name == cls else root.glob(f"{cls}.*"):
            if path.is_file():
                files[str(path.relative_to(lake))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def _launch(defs, instance, keys: list[str]):
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        tags=range_tags(keys[0], keys[-1]),
    )


def _observations(result) -> list:
    return [e.asset_observation_data.asset_observation for e in result.get_asset_observation_events()]


def _assert_metadata_per_class(result, classes: list[str]) -> None:
    """Each class's own figures and thumbnail strip are on an observation of its partition;
    the materializations Dagster copies to every class of the run name no class."""
    rejected = result.asset_materializations_for_node("raw_images")
    assert {m.asset_key.path[-1]: m.metadata.get("rejected_by_reason") for m in rejected}["rejected_images"].value == {"truncated": 1}
    for materialization in result.get_asset_materialization_events():
        shown = str(materialization.materialization.metadata)
        assert not [c for c in classes if c in shown], f"{materialization.asset_key} copies per-class details to every class"
    observed = {(o.asset_key.path[-1], o.partition): o.metadata for o in _observations(result)}
    assert sorted(observed) == sorted((a, c) for a in ("raw_images", "image_features") for c in classes)
    for cls in classes:
        raw = observed["raw_images", cls]
        assert raw["ingested"].value == 50 and cls in raw["dagster/uri"].value
        assert raw["rejected_by_reason"].value == ({"truncated": 1} if cls == classes[0] else {})
        strip = raw["thumbnails"].value
        assert f"**{cls}**" in strip and strip.count("data:image/png;base64,") == 1
        assert observed["image_features", cls]["inferred"].value == 50


def test_backfill_of_3_classes_rewrites_only_them(tmp_path, real_sample, lake):
    source = tmp_path / "source"
    shutil.copytree(real_sample, source)
    classes = sorted(p.name for p in (source / "Training").iterdir())
    assert len(classes) == 24
    cut = next((source / "Training" / classes[0]).iterdir())
    (cut.parent / "zz_cut.jpg").write_bytes(cut.read_bytes()[:1000])  # one rejection, in the first class
    spark = LocalSpark(master="local[2]")
    lake_resource = LakeResource(root=str(lake))
    defs = Definitions(
        assets=[raw_images, image_features],
        resources={
            "spark": spark, "lake": lake_resource, "source": FruitSource(root=str(source)),
            "model": MobileNetResource(**RANDOM_MODEL), "lake_io_manager": LakeIOManager(lake=lake_resource, spark=spark, model=MobileNetResource(**RANDOM_MODEL)),
        },
    )
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", classes)
    first = _launch(defs, instance, classes)
    assert first.success
    _assert_metadata_per_class(first, classes)
    before = {cls: _class_files(lake, cls) for cls in classes}
    assert all(before.values())

    chosen = classes[5:8]
    for cls in chosen:  # a newer modification time: the class must be read again, its images are the same
        touched = next((source / "Training" / cls).iterdir())
        os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    backfill = _launch(defs, instance, chosen)
    assert backfill.success
    features = backfill.asset_materializations_for_node("image_features")[0].metadata
    assert features["inferred"].value == 0 and features["reused"].value == features["rows"].value > 0
    observed = {o.partition: o.metadata for o in _observations(backfill) if o.asset_key == AssetKey("image_features")}
    assert sorted(observed) == chosen
    assert all(m["inferred"].value == 0 and m["reused"].value > 0 and cls in m["dagster/uri"].value for cls, m in observed.items())
    assert len(instance.get_runs(RunsFilter())) == 2, "the 3-class backfill is ONE run"
    ingest = backfill.asset_materializations_for_node("raw_images")
    assert sorted(m.partition for m in ingest if m.asset_key == AssetKey("raw_images")) == chosen

    after = {cls: _class_files(lake, cls) for cls in classes}
    for cls in classes:
        if cls in chosen:
            assert after[cls] != before[cls], f"{cls} should have been rewritten"
            versions = {Path(p).parts[-2] for p in after[cls] if "/v=" in p}
            assert not versions & {Path(p).parts[-2] for p in before[cls] if "/v=" in p}
        else:
            assert after[cls] == before[cls], f"{cls} changed although it was not in the backfill"

    model = Definitions(
        assets=[image_features, pca_model, pca_matrix, fruit_classifier],
        asset_checks=[accuracy_above_floor],
        resources=defs.resources,
    )
    fitted = model.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[AssetKey("pca_model"), AssetKey("pca_matrix"), AssetKey("fruit_classifier")],
    )
    assert fitted.success
    metadata = fitted.asset_materializations_for_node("fruit_classifier")[0].metadata
    assert metadata["classes"].value == 24 and metadata["test_rows"].value == 240
    assert metadata["test_accuracy"].value > metadata["accuracy_floor"].value
    assert all(check.passed for check in fitted.get_asset_check_evaluations())
