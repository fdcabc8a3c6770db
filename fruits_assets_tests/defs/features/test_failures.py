"""Failures of the features step: a late one keeps the classes committed before it
(recorded as materialized) and a retry infers only the rest (dagster-io/dagster#21072); a
transient one is retried by the step's RetryPolicy; any other fails the run at once."""

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance

from fruits_assets.partitions import range_tags
from fruits_assets.spark_jobs import tables

CLASSES = ["Apple Red 1", "Cherry 1", "Tomato 1", "Tomato 2"]
FEATURES = AssetKey("image_features")
ONE_CLASS_PER_COMMIT = {"ops": {"image_features": {"config": {"rows_per_commit": 1}}}}


def _failing_commits(monkeypatch, error: Exception, at: set[int]) -> list:
    """Make the features table's commits number ``at`` (1 = the first) raise ``error``."""
    original, calls = tables.replace_classes, []

    def replace_classes(df, location, classes, commit_info):
        if location.endswith("/image_features"):
            calls.append(classes)
            if len(calls) in at:
                raise error
        return original(df, location, classes, commit_info)

    monkeypatch.setattr(tables, "replace_classes", replace_classes)
    return calls


@pytest.fixture
def ingested(project, real_sample, lake):
    defs, instance = project(lake, real_sample), DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", CLASSES)
    job = defs.resolve_implicit_global_asset_job_def()
    tags = range_tags(CLASSES[0], CLASSES[-1])
    assert job.execute_in_process(instance=instance, tags=tags,
                                  asset_selection=[AssetKey("raw_images"), AssetKey("rejected_images")]).success
    return job, instance, tags


def test_a_late_failure_keeps_committed_classes_and_the_retry_infers_only_the_rest(ingested, monkeypatch):
    job, instance, tags = ingested
    original = tables.replace_classes
    _failing_commits(monkeypatch, RuntimeError("No space left on device"), at={3})
    failed = job.execute_in_process(instance=instance, asset_selection=[FEATURES], tags=tags,
                                    run_config=ONE_CLASS_PER_COMMIT, raise_on_error=False)
    assert not failed.success
    assert instance.get_materialized_partitions(FEATURES) == set(CLASSES[:2])
    assert len([e for e in failed.all_events if e.event_type == DagsterEventType.STEP_RESTARTED]) == 0, "not retried"
    (failure,) = failed.get_step_failure_events()
    assert "No space left on device" in failure.event_specific_data.error.message

    monkeypatch.setattr(tables, "replace_classes", original)
    retry = job.execute_in_process(instance=instance, asset_selection=[FEATURES], tags=tags, run_config=ONE_CLASS_PER_COMMIT)
    features = retry.asset_materializations_for_node("image_features")[0].metadata
    assert features["written_classes"].value == 2 and features["unchanged_classes"].value == 2
    assert features["inferred"].value == 100 and features["reused"].value == 0, "only the 2 classes left are inferred"
    assert instance.get_materialized_partitions(FEATURES) == set(CLASSES)
    assert all(e.passed for e in retry.get_asset_check_evaluations() if e.check_name != "features_from_imagenet_weights")


def test_a_transient_failure_is_retried_by_the_steps_retry_policy(ingested, monkeypatch):
    job, instance, tags = ingested
    calls = _failing_commits(monkeypatch, ConnectionResetError("Connection reset by peer"), at={1})
    run = job.execute_in_process(instance=instance, asset_selection=[FEATURES], tags=tags)
    assert run.success
    assert len([e for e in run.all_events if e.event_type == DagsterEventType.STEP_RESTARTED]) == 1
    assert len(calls) == 2, "the retry wrote the classes the first attempt could not"
    assert instance.get_materialized_partitions(FEATURES) == set(CLASSES)
