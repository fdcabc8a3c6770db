"""Class discovery: new folders become partitions with ONE run request over them; changed
classes are requested too; no change, no request; a folder whose name cannot be a class is
left out with a warning."""

import shutil

import pytest
from dagster import DagsterInstance, build_sensor_context

from fruits_assets.defs.ingest.sensors import fruit_class_sensor
from fruits_assets.partitions import RANGE_END_TAG, RANGE_START_TAG, range_tags
from fruits_assets.resources import FruitSource
from fruits_assets_tests.conftest import SHARED_SAMPLE

pytestmark = pytest.mark.fast

CLASSES_SORTED = sorted(p.name for p in (SHARED_SAMPLE / "Training").iterdir())


def _tick(instance, source, cursor=None):
    with build_sensor_context(instance=instance, cursor=cursor, resources={"source": FruitSource(root=str(source))}) as context:
        return fruit_class_sensor(context)


def test_new_and_changed_classes_are_requested(tmp_path, real_sample):
    source = tmp_path / "source"
    shutil.copytree(real_sample, source)
    instance = DagsterInstance.ephemeral()

    first = _tick(instance, source)
    assert len(first.dynamic_partitions_requests[0].partition_keys) == 24
    [everything] = first.run_requests
    assert everything.tags == range_tags(CLASSES_SORTED[0], CLASSES_SORTED[-1])
    instance.add_dynamic_partitions("fruit_class", list(first.dynamic_partitions_requests[0].partition_keys))

    quiet = _tick(instance, source, first.cursor)
    assert not getattr(quiet, "run_requests", None)

    new_class = source / "Training" / "Apple Fresh 9"
    new_class.mkdir()
    shutil.copy(next((source / "Training" / "Apple 6").iterdir()), new_class / "0_100.jpg")
    (source / "Test" / "Cherry 1" / next((source / "Test" / "Cherry 1").iterdir()).name).unlink()
    third = _tick(instance, source, first.cursor)
    assert list(third.dynamic_partitions_requests[0].partition_keys) == ["Apple Fresh 9"]
    ranges = sorted((r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in third.run_requests)
    assert ranges == [("Apple Fresh 9", "Apple Fresh 9"), ("Cherry 1", "Cherry 1")], "not consecutive: two runs"
    instance.add_dynamic_partitions("fruit_class", ["Apple Fresh 9"])
    assert not getattr(_tick(instance, source, third.cursor), "run_requests", None)


def test_three_new_classes_give_one_run_over_the_three(tmp_path, real_sample):
    source = tmp_path / "source"
    shutil.copytree(real_sample, source)
    instance = DagsterInstance.ephemeral()
    first = _tick(instance, source)
    instance.add_dynamic_partitions("fruit_class", list(first.dynamic_partitions_requests[0].partition_keys))
    for name in ("Kiwi 1", "Kiwi 2", "Kiwi 3"):
        (source / "Training" / name).mkdir()
        shutil.copy(next((source / "Training" / "Apple 6").iterdir()), source / "Training" / name / "0_100.jpg")
    tick = _tick(instance, source, first.cursor)
    assert list(tick.dynamic_partitions_requests[0].partition_keys) == ["Kiwi 1", "Kiwi 2", "Kiwi 3"]
    [run] = tick.run_requests
    assert run.tags == range_tags("Kiwi 1", "Kiwi 3")


def test_a_folder_whose_name_cannot_be_a_class_is_left_out(tmp_path, real_sample, capsys):
    source = tmp_path / "source"
    for name in ("Apple 6", "Fig [dried]"):
        shutil.copytree(real_sample / "Training" / "Apple 6", source / "Training" / name)
    tick = _tick(DagsterInstance.ephemeral(), source)
    assert list(tick.dynamic_partitions_requests[0].partition_keys) == ["Apple 6"]
    assert "Class folder 'Fig [dried]' holds '[' ']'" in capsys.readouterr().err


def test_250_new_classes_are_one_run_request(tmp_path):
    from fruits_assets_tests.corpus import many_classes

    names = many_classes(tmp_path / "source", 250, per_class=1)
    tick = _tick(DagsterInstance.ephemeral(), tmp_path / "source")
    assert list(tick.dynamic_partitions_requests[0].partition_keys) == names
    [run] = tick.run_requests
    assert run.tags == range_tags(names[0], names[-1])
