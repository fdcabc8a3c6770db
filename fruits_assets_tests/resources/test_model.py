"""The converted network is prepared on the Dagster side and only read by the Spark job."""

from dataclasses import replace

import pytest

from fruits_assets.resources import LakeResource, MobileNetResource
from fruits_assets.resources import model as model_resource
from fruits_assets.spark_jobs import featurize
from fruits_assets.spark_jobs.mobilenet import sha256_file
from fruits_assets.spark_jobs.versioned import VersionedLake
from fruits_assets_tests.conftest import RANDOM_MODEL, lake_uri


def _refuse_to_build(spec):
    raise AssertionError("the converted network was already in the lake: nothing to build")


def test_a_cached_network_is_used_as_it_is(lake, monkeypatch):
    monkeypatch.setattr(model_resource, "bundle", _refuse_to_build)
    spec = MobileNetResource(**RANDOM_MODEL).prepare(LakeResource(root=str(lake)))
    assert spec.weights == "random" and spec.seed == RANDOM_MODEL["seed"]


def test_a_weights_file_is_converted_once_and_the_job_reads_it_by_id(tmp_path, spark, monkeypatch):
    weights = tmp_path / "mine.weights.h5"
    weights.write_bytes(b"stand-in: conversion is replaced below")
    weights_id = f"file:{sha256_file(str(weights))[:16]}"  # what build_keras reports for a file
    monkeypatch.setattr(model_resource, "bundle", lambda spec: (b"converted network", weights_id))
    lake = LakeResource(root=str(tmp_path / "lake"))
    spec = MobileNetResource(weights=str(weights)).prepare(lake)
    assert spec.weights == weights_id
    spec.validate()  # the job accepts the id without the file (an EMR node does not have it)
    assert featurize.load_bundle(VersionedLake(spark, lake_uri(tmp_path / "lake")), spec) == (
        b"converted network", weights_id
    )
    monkeypatch.setattr(model_resource, "bundle", _refuse_to_build)
    assert MobileNetResource(weights=str(weights)).prepare(lake).weights == weights_id, "converted once"
    missing = replace(spec, weights="file:fedcba9876543210")
    with pytest.raises(FileNotFoundError, match="not in the lake's model cache"):
        featurize.load_bundle(VersionedLake(spark, lake_uri(tmp_path / "lake")), missing)
