"""The converted network is prepared on the Dagster side and only read by the Spark job.
It is converted in a child process, which a run starts as it begins, so that the
conversion runs while the run ingests."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import psutil
import pytest
from dagster import AssetKey, DagsterInstance, Definitions, build_init_resource_context

from fruits_assets.assets import mobilenet_v2, raw_images
from fruits_assets.partitions import range_tags
from fruits_assets.resources import FruitSource, LakeIOManager, LakeResource, LocalSpark, MobileNetResource
from fruits_assets.resources import model as model_resource
from fruits_assets.spark_jobs import featurize, mobilenet
from fruits_assets.spark_jobs.images import decode
from fruits_assets.spark_jobs.mobilenet import ModelSpec, sha256_file
from fruits_assets.spark_jobs.versioned import VersionedLake
from fruits_assets_tests.conftest import RANDOM_MODEL, lake_uri


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


def test_a_cached_network_is_used_as_it_is(lake, monkeypatch):
    monkeypatch.setattr(model_resource, "Conversion", RefusedConversion)
    spec = MobileNetResource(**RANDOM_MODEL).prepare(LakeResource(root=str(lake)))
    assert spec.weights == "random" and spec.seed == RANDOM_MODEL["seed"]


def test_a_weights_file_is_converted_once_and_the_job_reads_it_by_id(tmp_path, spark, monkeypatch):
    weights = tmp_path / "mine.weights.h5"
    weights.write_bytes(b"stand-in: conversion is replaced below")
    weights_id = f"file:{sha256_file(str(weights))[:16]}"  # what build_keras reports for a file
    monkeypatch.setattr(model_resource, "Conversion", stand_in_conversion(weights_id, []))
    lake = LakeResource(root=str(tmp_path / "lake"))
    spec = MobileNetResource(weights=str(weights)).prepare(lake)
    assert spec.weights == weights_id
    spec.validate()  # the job accepts the id without the file (an EMR node does not have it)
    assert featurize.load_bundle(VersionedLake(spark, lake_uri(tmp_path / "lake")), spec) == (
        b"converted network", weights_id
    )
    monkeypatch.setattr(model_resource, "Conversion", RefusedConversion)
    assert MobileNetResource(weights=str(weights)).prepare(lake).weights == weights_id, "converted once"
    missing = replace(spec, weights="file:fedcba9876543210")
    with pytest.raises(FileNotFoundError, match="not in the lake's model cache"):
        featurize.load_bundle(VersionedLake(spark, lake_uri(tmp_path / "lake")), missing)


def test_auto_weights_that_fell_back_are_converted_once_per_process(tmp_path, monkeypatch):
    """mobilenet_v2 and image_features both prepare the network in a run: the second finds
    the fallback ``random`` network the first converted, under its own name."""
    monkeypatch.setattr(model_resource, "_RESOLVED", {})
    monkeypatch.setattr(model_resource, "Conversion", stand_in_conversion("random", []))
    lake = LakeResource(root=str(tmp_path / "lake"))
    assert MobileNetResource(weights="auto").prepare(lake).weights == "random"
    monkeypatch.setattr(model_resource, "Conversion", RefusedConversion)
    assert MobileNetResource(weights="auto").prepare(lake).weights == "random", "converted once"


def test_an_auto_rerun_that_falls_back_again_reuses_the_cached_random_network(tmp_path, monkeypatch):
    """A new process with ``auto`` weights tries ImageNet again; when it falls back to the
    random network the lake already holds, that network is not converted again."""
    monkeypatch.setattr(model_resource, "_RESOLVED", {})
    lake = LakeResource(root=str(tmp_path / "lake"))
    model = MobileNetResource(weights="auto")
    lake.store().write_bytes(featurize.bundle_key(model.spec(), "random"), b"the random network")
    told: list = []

    class FallsBackAgain:
        def __init__(self, spec, cached=()):
            told.append(list(cached))

        def result(self):
            return None, "random"

    monkeypatch.setattr(model_resource, "Conversion", FallsBackAgain)
    assert model.prepare(lake).weights == "random"
    assert told == [["random"]], "the child is told which fallback the cache holds"
    assert lake.store().read_bytes(featurize.bundle_key(model.spec(), "random")) == b"the random network"


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
    spec = ModelSpec(weights="auto", seed=RANDOM_MODEL["seed"]).validate()
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


class RecordedSpark(LocalSpark):
    """Local Spark that notes each job it runs in ``EVENTS``."""

    def run_job(self, params, context=None):
        EVENTS.append(type(params).__name__)
        return super().run_job(params, context)


EVENTS: list[str] = []
INGEST = [AssetKey("raw_images"), AssetKey("rejected_images")]


def _image_run(tmp_path, real_sample, selection, **kwargs):
    """A run of ``selection`` over two classes, the model resource given the lake (as
    the deployments do, the IO manager holding the same resource)."""
    lake = LakeResource(root=str(tmp_path / "lake"))
    spark, model = RecordedSpark(master="local[2]"), MobileNetResource(**RANDOM_MODEL, lake=lake)
    defs = Definitions(
        assets=[raw_images, mobilenet_v2],
        resources={"spark": spark, "lake": lake, "source": FruitSource(root=str(real_sample)), "model": model,
                   "lake_io_manager": LakeIOManager(lake=lake, spark=spark, model=model)},
    )
    instance = DagsterInstance.ephemeral()
    classes = ["Apple Red 1", "Cherry 1"]
    instance.add_dynamic_partitions("fruit_class", classes)
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, asset_selection=selection, tags=range_tags(*classes), **kwargs), lake


def test_a_run_converts_the_network_while_it_ingests(tmp_path, real_sample, monkeypatch):
    EVENTS.clear()
    monkeypatch.setattr(model_resource, "Conversion", stand_in_conversion("random", EVENTS))
    result, lake = _image_run(tmp_path, real_sample, [*INGEST, AssetKey("mobilenet_v2")])
    assert result.success
    assert EVENTS == ["conversion started", "IngestParams", "conversion awaited"], "one child, started before ingest"
    spec = ModelSpec(**RANDOM_MODEL).validate()
    assert lake.store().read_bytes(featurize.bundle_key(spec, "random")) == b"converted network"


def test_a_run_without_the_network_converts_nothing(tmp_path, real_sample, monkeypatch):
    EVENTS.clear()
    monkeypatch.setattr(model_resource, "Conversion", stand_in_conversion("random", EVENTS))
    assert _image_run(tmp_path, real_sample, INGEST)[0].success
    assert EVENTS == ["IngestParams"]


def test_a_failed_run_stops_the_conversion_it_started(tmp_path, real_sample, monkeypatch):
    EVENTS.clear()
    monkeypatch.setattr(model_resource, "Conversion", stand_in_conversion("random", EVENTS))
    (tmp_path / "lake").write_text("a file where the lake folder should be")
    result, _ = _image_run(tmp_path, real_sample, [*INGEST, AssetKey("mobilenet_v2")], raise_on_error=False)
    assert not result.success
    assert EVENTS[0] == "conversion started" and EVENTS[-1] == "conversion stopped"
    assert "conversion awaited" not in EVENTS
