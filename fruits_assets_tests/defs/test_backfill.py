"""A single-run backfill of 3 changed classes out of 24 (a new photo in each, and a file to
reject in one): one run, one
new commit per table replacing exactly those 3 classes (only the new photos go through the
network, the other features are reused), the other 21 classes' data files byte-identical.
Then the first model on all 24."""

import hashlib
import json
import shutil
from pathlib import Path

from dagster import AssetKey, DagsterInstance, RunsFilter
from deltalake import DeltaTable
from PIL import Image, ImageOps

from fruits_assets.partitions import partition_folder, range_tags

TABLES = ("raw_images", "rejected_images", "image_features")


def _class_files(lake: Path, cls: str) -> dict[str, str]:
    """SHA-256 of every data file of one class, by path, in every table."""
    files = {}
    for name in TABLES:
        folder = lake / "tables" / name / partition_folder(cls)
        for path in folder.rglob("*") if folder.is_dir() else []:
            files[str(path.relative_to(lake))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


def _launch(defs, instance, keys: list[str]):
    return defs.resolve_job_def("images_by_class").execute_in_process(instance=instance, tags=range_tags(keys[0], keys[-1]))


def _observations(result) -> dict:
    return {(e.asset_observation_data.asset_observation.asset_key.path[-1], e.partition):
            e.asset_observation_data.asset_observation.metadata for e in result.get_asset_observation_events()}


def test_backfill_of_3_classes_rewrites_only_them(project, tmp_path, real_sample, lake):
    source = tmp_path / "source"
    shutil.copytree(real_sample, source)
    classes = sorted(p.name for p in (source / "Training").iterdir())
    assert len(classes) == 24
    cut = next((source / "Training" / classes[0]).iterdir())
    (cut.parent / "zz_cut.jpg").write_bytes(cut.read_bytes()[:1000])  # one rejection, in the first class
    defs, instance = project(lake, source), DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", classes)

    first = _launch(defs, instance, classes)
    rejected = first.asset_materializations_for_node("raw_images")
    assert {m.asset_key.path[-1]: m.metadata.get("rejected_by_reason") for m in rejected}["rejected_images"].value == {"truncated": 1}
    for materialization in first.get_asset_materialization_events():
        shown = str(materialization.materialization.metadata)
        assert not [c for c in classes if c in shown], "the run's materialization names no class"
    observed = _observations(first)
    assert sorted(observed) == sorted((a, c) for a in ("raw_images", "image_features") for c in classes)
    assert observed["raw_images", classes[0]]["rejected_by_reason"].value == {"truncated": 1}
    assert observed["raw_images", classes[1]]["thumbnails"].value.count("data:image/png;base64,") == 1
    assert all(observed["image_features", c]["inferred"].value == 50 for c in classes)
    before = {cls: _class_files(lake, cls) for cls in classes}
    versions = {name: DeltaTable(str(lake / "tables" / name)).version() for name in TABLES}

    chosen = classes[5:8]
    for cls in chosen:  # a new photo: the mirror image of one the class has
        photo = next((source / "Training" / cls).iterdir())
        ImageOps.mirror(Image.open(photo)).save(photo.with_name("mirrored.jpg"), quality=95)
    (source / "Test" / chosen[0] / "notes.txt").write_text("not a photo")  # and a rejection
    backfill = _launch(defs, instance, chosen)
    features = backfill.asset_materializations_for_node("image_features")[0].metadata
    assert features["inferred"].value == 3 and features["reused"].value == 150
    assert features["dagster/row_count"].value == 153 and features["written_classes"].value == 3
    assert sorted(c for a, c in _observations(backfill) if a == "image_features") == chosen
    assert len(instance.get_runs(RunsFilter())) == 2, "the 3-class backfill is ONE run"
    ingest = backfill.asset_materializations_for_node("raw_images")
    assert sorted(m.partition for m in ingest if m.asset_key == AssetKey("raw_images")) == chosen

    after = {cls: _class_files(lake, cls) for cls in classes}
    for cls in classes:
        if cls in chosen:
            assert after[cls] != before[cls], f"{cls} should have been rewritten"
        else:
            assert after[cls] == before[cls], f"{cls} changed although it was not in the backfill"
    for name in TABLES:
        table = DeltaTable(str(lake / "tables" / name))
        assert table.version() == versions[name] + 1, f"{name}: one new commit"
        info = json.loads(table.history(1)[0]["userMetadata"])
        assert info["dagster_run_id"] == backfill.run_id

    fitted = defs.resolve_job_def("refit_model").execute_in_process(instance=instance)
    metadata = fitted.asset_materializations_for_node("fruit_classifier")[0].metadata
    assert metadata["classes"].value == 24 and metadata["evaluated_rows"].value == 240
    assert metadata["evaluation"].value == "test split" and metadata["accuracy"].value > metadata["accuracy_floor"].value
    assert all(check.passed for check in fitted.get_asset_check_evaluations())
