"""The converted network is prepared on the Dagster side and only read by the Spark job.
It is converted in a child process, which a run starts as it begins, so that the
conversion runs while the run ingests."""

from pathlib import Path

import numpy as np
import psutil
import pytest
from dagster import AssetKey, DagsterInstance, build_init_resource_context

from fruits_assets.partitions import range_tags
from fruits_assets.resources import LakeResource, LocalSpark, MobileNetResource
from fruits_assets.resources import model as model_resource
from fruits_assets.resources.model import bundle_key
from fruits_assets.spark_jobs import mobilenet
from fruits_assets.spark_jobs.images import decode
from fruits_assets.spark_jobs.mobilenet import ModelSpec, sha256_file
from fruits_assets_tests.conftest import RANDOM_MODEL


class RefusedConversion:
    def __init__(self, spec, cached=()):
        raise AssertionError("the converted network was already in the lake: nothing to convert")


def stand_in_conversion(weights_id: str, log: list[str]) -> type:
    """A Conversion that records when it starts, is awaited and is stopped, and returns
    placeholder bytes at once."""

    class StandIn:
        def __init__(self, spec, cached=()):
            log.append("conversion started")

        def result(self):
            log.append("conversion awaited")
            return b"converted network", weights_id

        def close(self):
            log.append("conversion stopped")

    return StandIn


@pytest.mark.fast
def test_a_cached_network_is_used_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setattr(model_resource, "Conversion", RefusedConversion)
    lake = LakeResource(root=str(tmp_path / "lake"))
    lake.store().write_bytes(bundle_key(ModelSpec(**RANDOM_MODEL).validate(), "random"), b"the network")
    spec = MobileNetResource(**RANDOM_MODEL).prepare(lake)
    assert spec.weights == "random" and spec.seed == 0


@pytest.mark.fast
def test_a_weights_file_is_converted_once_and_named_by_its_content(tmp_path, monkeypatch):
    weights = tmp_path / "mine.weights.h5"
    weights.write_bytes(b"stand-in: conversion is replaced below")
    weights_id = f"file:{sha256_file(str(weights))[:16]}"  # what build_keras reports for a file
    monkeypatch.setattr(model_resource, "Conversion", stand_in_conversion(weights_id, []))
    lake = LakeResource(root=str(tmp_path / "lake"))
    spec = MobileNetResource(weights=str(weights)).prepare(lake)
    assert spec.weights == weights_id
    spec.validate()  # the job accepts the id without the file (an EMR node does not have it)
    assert lake.store().read_bytes(bundle_key(spec, weights_id)) == b"converted network"
    monkeypatch.setattr(model_resource, "Conversion", RefusedConversion)
    assert MobileNetResource(weights=str(weights)).prepare(lake).weights == weights_id, "converted once"


@pytest.mark.fast
def test_auto_weights_that_fell_back_are_converted_once_per_process(tmp_path, monkeypatch):
    """mobilenet_v2 and image_features both prepare the network in a run: the second finds
    the fallback ``random`` network the first converted, under its own name."""
    monkeypatch.setattr(model_resource, "_RESOLVED", {})
    monkeypatch.setattr(model_resource, "Conversion", stand_in_conversion("random", []))
    lake = LakeResource(root=str(tmp_path / "lake"))
    assert MobileNetResource(weights="auto").prepare(lake).weights == "random"
    monkeypatch.setattr(model_resource, "Conversion", RefusedConversion)
    assert MobileNetResource(weights="auto").prepare(lake).weights == "random", "converted once"


@pytest.mark.fast
def test_an_auto_rerun_that_falls_back_again_reuses_the_cached_random_network(tmp_path, monkeypatch):
    """A new process with ``auto`` weights tries ImageNet again; when it falls back to the
    random network the lake already holds, that network is not converted again."""
    monkeypatch.setattr(model_resource, "_RESOLVED", {})
    lake = LakeResource(root=str(tmp_path / "lake"))
    model = MobileNetResource(weights="auto")
    lake.store().write_bytes(bundle_key(model.spec(), "random"), b"the random network")
    told: list = []

    class FallsBackAgain:
        def __init__(self, spec, cached=()):
            told.append(list(cached))

        def result(self):
            return None, "random"

    monkeypatch.setattr(model_resource, "Conversion", FallsBackAgain)
    assert model.prepare(lake).weights == "random"
    assert told == [["random"]], "the child is told which fallback the cache holds"
    assert lake.store().read_bytes(bundle_key(model.spec(), "random")) == b"the random network"


def test_the_child_skips_converting_weights_the_cache_holds():
    spec = ModelSpec(**RANDOM_MODEL).validate()
    assert model_resource.Conversion(spec, ["random"]).result() == (None, "random")


def _features(spec: ModelSpec, payload: bytes, real_sample: Path) -> np.ndarray:
    images = np.stack([decode(p.read_bytes(), spec.image_size) for p in sorted(real_sample.glob("Test/*/*.jpg"))[:3]])
    return mobilenet.runner(spec, payload, 1)(images)


def test_the_child_process_converts_the_same_network(model_cache, real_sample):
    spec = ModelSpec(**RANDOM_MODEL).validate()
    payload, weights = model_resource.Conversion(spec).result()
    cached = (model_cache / f"{mobilenet.cache_key(spec, 'random')}.bin").read_bytes()
    assert weights == "random"
    np.testing.assert_array_equal(_features(spec, payload, real_sample), _features(spec, cached, real_sample))


def test_auto_weights_come_back_as_a_clean_name(model_cache, real_sample):
    """``auto`` tries ImageNet first (Keras announces the download on stdout), and falls
    back to seeded random weights where it cannot download them (here)."""
    spec = ModelSpec(weights="auto").validate()
    payload, weights = model_resource.Conversion(spec).result()
    assert weights in ("imagenet", "random")
    if weights == "random":
        cached = (model_cache / f"{mobilenet.cache_key(spec, 'random')}.bin").read_bytes()
        np.testing.assert_array_equal(_features(spec, payload, real_sample), _features(spec, cached, real_sample))


def test_a_failed_conversion_raises_with_the_childs_error(tmp_path):
    weights = tmp_path / "broken.weights.h5"
    weights.write_bytes(b"not an HDF5 file")
    with pytest.raises(RuntimeError, match=r"(?s)Converting MobileNetV2 failed \(exit code 1\).*Traceback"):
        model_resource.Conversion(ModelSpec(weights=str(weights)).validate()).result()


def test_closing_a_running_conversion_stops_its_process():
    conversion = model_resource.Conversion(ModelSpec(**RANDOM_MODEL).validate())
    child = psutil.Process(conversion._process.pid)
    folder = Path(conversion._folder.name)
    conversion.close()
    assert not child.is_running() and not folder.exists()


class NoConversion:
    def __init__(self, spec, cached=()):
        raise AssertionError("a conversion was started for a setting that cannot work")


@pytest.mark.fast
@pytest.mark.parametrize(
    "setting, error",
    [({"backend": "onnx"}, "Unknown backend 'onnx'"), ({"weights": "/no/such/weights.h5"}, "does not exist")],
)
def test_a_wrong_setting_starts_no_conversion_and_the_step_says_why(tmp_path, monkeypatch, setting, error):
    monkeypatch.setattr(model_resource, "Conversion", NoConversion)
    lake = LakeResource(root=str(tmp_path / "lake"))
    model = MobileNetResource(**{**RANDOM_MODEL, **setting}, lake=lake)
    context = build_init_resource_context()
    model.setup_for_execution(context)
    with pytest.raises((ValueError, FileNotFoundError), match=error):
        model.prepare(lake)
    model.teardown_after_execution(context)


EVENTS: list[str] = []
INGEST = [AssetKey("raw_images"), AssetKey("rejected_images")]


@pytest.fixture
def image_run(project, real_sample, tmp_path, monkeypatch):
    """``run(selection, **kwargs)``: a run of ``selection`` over two classes of the project's
    definitions, the Spark jobs it runs noted in EVENTS."""
    original = LocalSpark.submit

    def submit(self, params, context=None):
        EVENTS.append(type(params).__name__)
        return original(self, params, context)

    monkeypatch.setattr(LocalSpark, "submit", submit)
    EVENTS.clear()
    lake = tmp_path / "lake"

    def run(selection, **kwargs):
        defs, instance = project(lake, real_sample), DagsterInstance.ephemeral()
        classes = ["Apple Red 1", "Cherry 1"]
        instance.add_dynamic_partitions("fruit_class", classes)
        job = defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(instance=instance, asset_selection=selection, tags=range_tags(*classes), **kwargs)

    return run, LakeResource(root=str(lake))


def test_a_run_converts_the_network_while_it_ingests(image_run, monkeypatch):
    run, lake = image_run
    monkeypatch.setattr(model_resource, "Conversion", stand_in_conversion("random", EVENTS))
    assert run([*INGEST, AssetKey("mobilenet_v2")]).success
    assert EVENTS == ["conversion started", "IngestParams", "conversion awaited"], "one child, started before ingest"
    spec = ModelSpec(**RANDOM_MODEL).validate()
    assert lake.store().read_bytes(bundle_key(spec, "random")) == b"converted network"


def test_a_run_without_the_network_converts_nothing(image_run, monkeypatch):
    run, _ = image_run
    monkeypatch.setattr(model_resource, "Conversion", stand_in_conversion("random", EVENTS))
    assert run(INGEST).success
    assert EVENTS == ["IngestParams"]


def test_a_failed_run_stops_the_conversion_it_started(image_run, monkeypatch, tmp_path):
    run, _ = image_run
    monkeypatch.setattr(model_resource, "Conversion", stand_in_conversion("random", EVENTS))
    (tmp_path / "lake").write_text("a file where the lake folder should be")
    assert not run([*INGEST, AssetKey("mobilenet_v2")], raise_on_error=False).success
    assert EVENTS[0] == "conversion started" and EVENTS[-1] == "conversion stopped"
    assert "conversion awaited" not in EVENTS
