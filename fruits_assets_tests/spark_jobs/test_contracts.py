"""The jobs' parameters and results survive the JSON trip an EMR step makes (the same
types come back), and a field one side does not know is refused, not dropped."""

import dataclasses

import pytest

from fruits_assets.spark_jobs import jobs
from fruits_assets.spark_jobs.contracts import (
    PARAMS,
    FeaturizedClass,
    FeaturizeParams,
    FeaturizeResult,
    IngestParams,
    JobResult,
    PcaFitResult,
    Runtime,
)
from fruits_assets.spark_jobs.mobilenet import ModelSpec

pytestmark = pytest.mark.fast


def test_parameters_round_trip_with_their_nested_model_spec():
    params = FeaturizeParams(raw_images="s3://lake/tables/raw_images", image_features="s3://lake/tables/image_features",
                             network="s3://lake/models/n.bin", classes=["Kiwi"], raw_rows={"Kiwi": 3},
                             model=ModelSpec(weights="random", seed=3), force=True)
    back = FeaturizeParams.from_json(params.to_json())
    assert back == params and isinstance(back.model, ModelSpec)


def test_a_result_round_trips_with_nested_classes_and_runtime():
    result = FeaturizeResult(
        seconds=1.5, rows=3, inferred=2, reused=1, images_per_second=None, model_seconds=0.1, model="m",
        threads_per_worker=1, tasks=2, commits=1, model_builds_by_worker={"w": 1},
        classes={"Kiwi": FeaturizedClass(rows=3, raw_rows=3, distinct_ids=3, inferred=2, reused=1, bad_vectors=0,
                                         all_vectors_equal=False)},
        runtime=Runtime(emr_cluster_id="j-1", emr_step_id="s-1", emr_console_url="https://x", emr_step_seconds=3),
    )
    back = FeaturizeResult.from_json(result.to_json())
    assert back == result
    assert isinstance(back.classes["Kiwi"], FeaturizedClass) and isinstance(back.runtime, Runtime)
    assert isinstance(back.runtime.emr_step_seconds, float)


def test_an_unknown_field_is_refused():
    with pytest.raises(ValueError, match=r"IngestParams has no field\(s\) \['workers'\]"):
        IngestParams.from_dict({"source_root": "s", "raw_images": "r", "rejected_images": "j", "classes": [], "workers": 4})
    with pytest.raises(TypeError):
        PcaFitResult.from_dict({"seconds": 1.0})  # required fields missing


def test_every_job_has_parameters_and_a_result_type():
    assert set(jobs.JOBS) == set(PARAMS)
    for name, params in PARAMS.items():
        assert params.job == name and dataclasses.is_dataclass(params.result_type)
        assert issubclass(params.result_type, JobResult)


def test_run_refuses_what_is_not_a_job_s_parameters():
    with pytest.raises(TypeError, match="Not the parameters of a job"):
        jobs.run(None, {"job": "ingest"})
