"""Which classes ``fruits-assets run`` launches: those whose image_features partition is
not materialized, whose files changed, or whose features are not from the current model."""

from datetime import datetime, timezone

import pyarrow as pa
import pytest
from dagster import AssetMaterialization, DagsterInstance
from deltalake import write_deltalake

from fruits_assets.defs.features.assets import IMAGE_FEATURES
from fruits_assets.defs.stale import stale_classes
from fruits_assets.partitions import fruit_classes
from fruits_assets.resources import LakeResource
from fruits_assets.resources.source import SourceFile

pytestmark = pytest.mark.fast

MODEL = "litert-random-seed0-100-224"
CLASSES = ["Kiwi", "Lime", "Plum"]
MODIFIED = 1_000


def _listing(modified: dict[str, int] | None = None) -> dict[str, list[SourceFile]]:
    return {c: [SourceFile(f"Training/{c}/a.jpg", 10, (modified or {}).get(c, MODIFIED))] for c in CLASSES}


def _write(lake, name: str, columns: dict) -> None:
    write_deltalake(str(lake / "tables" / name), pa.table(columns), partition_by=["label"], mode="overwrite")


@pytest.fixture
def lake(tmp_path):
    """A lake holding one image per class, featured by MODEL."""
    paths = [f"file:/data/Training/{c}/a.jpg" for c in CLASSES]
    ids = [f"id-{c}" for c in CLASSES]
    _write(tmp_path, "raw_images", {
        "label": CLASSES, "split": ["Training"] * 3, "path": paths, "file_size": [10] * 3,
        "file_modified": pa.array([datetime.fromtimestamp(MODIFIED / 1000, tz=timezone.utc)] * 3,
                                  pa.timestamp("us", tz="UTC")),
        "image_id": ids,
    })
    _write(tmp_path, "image_features", {"label": CLASSES, "image_id": ids, "path": paths, "split": ["Training"] * 3,
                                        "model": [MODEL] * 3})
    return LakeResource(root=str(tmp_path))


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as found:
        found.add_dynamic_partitions(fruit_classes.name, CLASSES)
        for cls in CLASSES:
            found.report_runless_asset_event(AssetMaterialization(IMAGE_FEATURES, partition=cls))
        yield found


def test_nothing_is_launched_when_files_features_and_partitions_are_current(instance, lake):
    assert stale_classes(instance, _listing(), lake, lambda: MODEL) == []


def test_a_class_whose_files_changed_is_launched_alone(instance, lake):
    assert stale_classes(instance, _listing({"Lime": MODIFIED + 1}), lake, lambda: MODEL) == ["Lime"]


def test_another_model_launches_every_class(instance, lake):
    assert stale_classes(instance, _listing(), lake, lambda: "keras-imagenet-100-224") == CLASSES


def test_a_partition_dagster_has_not_recorded_is_launched(lake):
    with DagsterInstance.ephemeral() as empty:  # e.g. a new DAGSTER_HOME over an existing lake
        empty.add_dynamic_partitions(fruit_classes.name, CLASSES)
        assert stale_classes(empty, _listing(), lake, lambda: MODEL) == CLASSES


def test_a_lake_without_tables_launches_every_class_without_asking_for_the_model(instance, tmp_path):
    def no_model():
        raise AssertionError("the network is not needed when no class has features")

    assert stale_classes(instance, _listing(), LakeResource(root=str(tmp_path / "empty")), no_model) == CLASSES
