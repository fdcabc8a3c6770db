"""Bad configuration fails with a message that says what to fix, before Spark starts."""

import pytest
from dagster import DagsterInstance, materialize

from fruits_assets_tests.conftest import RANDOM_MODEL
from fruits_assets.assets import raw_images
from fruits_assets.resources import MobileNetResource, FruitSource, LakeIOManager, LakeResource, LocalSpark, SparkRuntime
from fruits_assets.resources.source import SourceError


class NoSpark(SparkRuntime):
    """A runtime that fails the test if any job reaches it."""

    def run_job(self, params, context=None):
        raise AssertionError(f"Spark job {params.job!r} started although the configuration is bad")


def _materialize(source: FruitSource, lake: LakeResource, classes=("Apple 6",)):
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", list(classes))
    return materialize(
        [raw_images],
        resources={"spark": NoSpark(), "lake": lake, "source": source,
                   "lake_io_manager": LakeIOManager(lake=lake, spark=LocalSpark(), model=MobileNetResource(**RANDOM_MODEL))},
        instance=instance,
        partition_key=classes[0],
        raise_on_error=False,
    )


def _failure(result) -> str:
    """The step's error message, with its causes."""
    (event,) = [e for e in result.all_events if e.is_step_failure]
    error, messages = event.step_failure_data.error, []
    while error:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


def test_missing_source(tmp_path):
    with pytest.raises(SourceError, match="does not exist.*FRUITS_SOURCE"):
        FruitSource(root=str(tmp_path / "nowhere")).classes()


@pytest.mark.parametrize("layout", ["empty", "files_only", "other_folders"])
def test_source_without_class_folders(tmp_path, layout):
    if layout == "files_only":
        (tmp_path / "Training").mkdir()
        (tmp_path / "Training" / "apple.jpg").write_bytes(b"not a folder")
    if layout == "other_folders":
        (tmp_path / "Validation" / "Apple").mkdir(parents=True)
    with pytest.raises(SourceError, match=r"No class folders under .*Training,Test"):
        FruitSource(root=str(tmp_path)).classes()


def test_partition_whose_class_folder_is_gone_fails_before_spark(tmp_path, real_sample):
    result = _materialize(FruitSource(root=str(real_sample)), LakeResource(root=str(tmp_path / "lake")),
                          classes=("Kiwi From Mars",))
    assert not result.success
    assert "no folder for class(es) Kiwi From Mars" in _failure(result)


def test_unwritable_lake_fails_before_spark(tmp_path, real_sample):
    blocker = tmp_path / "a-file"
    blocker.write_text("the lake cannot live under a file")  # fails for root too, unlike chmod
    result = _materialize(FruitSource(root=str(real_sample)), LakeResource(root=str(blocker / "lake")))
    assert not result.success
    message = _failure(result)
    assert "is not writable" in message and "FRUITS_LAKE" in message


def test_partition_key_escaping_the_lake_fails_before_spark(tmp_path, real_sample):
    result = _materialize(FruitSource(root=str(real_sample)), LakeResource(root=str(tmp_path / "lake")),
                          classes=("../../etc",))
    assert not result.success
    assert "../../etc" in _failure(result)
