"""Class discovery: new folders become partitions with a run request; no change, no request."""

import shutil

from dagster import DagsterInstance, build_sensor_context

from fruits_assets.resources import FruitSource
from fruits_assets.sensors import fruit_class_sensor


def _tick(instance, source, cursor=None):
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"source": FruitSource(root=str(source))})
    return fruit_class_sensor(context)


def test_new_and_changed_classes_are_requested(tmp_path, real_sample):
    source = tmp_path / "source"
    shutil.copytree(real_sample, source)
    instance = DagsterInstance.ephemeral()

    first = _tick(instance, source)
    assert len(first.dynamic_partitions_requests[0].partition_keys) == 24
    assert len(first.run_requests) == 24
    instance.add_dynamic_partitions("fruit_class", list(first.dynamic_partitions_requests[0].partition_keys))

    quiet = _tick(instance, source, first.cursor)
    assert not getattr(quiet, "run_requests", None)

    new_class = source / "Training" / "Apple Fresh 9"
    new_class.mkdir()
    shutil.copy(next((source / "Training" / "Apple 6").iterdir()), new_class / "0_100.jpg")
    (source / "Test" / "Cherry 1" / next((source / "Test" / "Cherry 1").iterdir()).name).unlink()
    third = _tick(instance, source, first.cursor)
    assert list(third.dynamic_partitions_requests[0].partition_keys) == ["Apple Fresh 9"]
    assert sorted(r.partition_key for r in third.run_requests) == ["Apple Fresh 9", "Cherry 1"]
    instance.add_dynamic_partitions("fruit_class", ["Apple Fresh 9"])
    assert not getattr(_tick(instance, source, third.cursor), "run_requests", None)
