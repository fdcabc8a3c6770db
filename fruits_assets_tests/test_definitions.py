"""The Dagster project end to end: validation, a full run, loading assets back."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, build_input_context

from fruits_assets_tests.conftest import RANDOM_MODEL
from fruits_assets import sample
from fruits_assets.resources import MobileNetResource, LakeIOManager, LakeResource, LocalSpark
from fruits_assets.spark_jobs.pca import FittedPCA
from fruits_assets_tests.conftest import REPO, project_env


def test_definitions_load_and_describe_every_asset():
    from dagster import Definitions

    from fruits_assets.definitions import defs

    Definitions.validate_loadable(defs)
    specs = {s.key.path[-1]: s for s in defs.resolve_all_asset_specs()}
    assert set(specs) == {"raw_images", "rejected_images", "mobilenet_v2", "image_features", "pca_model", "pca_matrix",
                          "fruit_classifier"}
    assert {d.asset_key.path[-1] for d in specs["image_features"].deps} == {"raw_images", "mobilenet_v2"}
    for name, spec in specs.items():
        assert spec.owners and spec.kinds and spec.tags.get("stage"), name
        assert "dagster/code_references" in spec.metadata, name
    jobs = {job.name: job for job in defs.jobs}
    assert set(jobs) == {"images_by_class", "refit_model"}
    assert defs.resolve_job_def("images_by_class").partitions_def.name == "fruit_class"


def test_definitions_validate(tmp_path):
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "fruits_assets.definitions"],
        cwd=REPO, env=project_env(DAGSTER_HOME=str(tmp_path)), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_run_writes_the_csv_contract_into_fruits_lake(pipeline_run):
    home, lake, stdout, _ = pipeline_run
    assert len(stdout.splitlines()) <= 40, f"a first run reads in 40 lines at most:\n{stdout}"
    assert "DEBUG" not in stdout and "BetaWarning" not in stdout and "PreviewWarning" not in stdout
    for asset in ("raw_images", "image_features", "pca_model", "pca_matrix", "fruit_classifier"):
        assert f"  {asset} " in stdout, f"one line for {asset}"
    assert not (home / ".lake").exists(), "FRUITS_LAKE must receive every output"
    csvs = list(lake.glob("data/pca/v=*/pca_matrix.csv"))
    assert len(csvs) == 1 and str(csvs[0]) in stdout
    matrix = pd.read_csv(csvs[0])
    k = len(matrix.columns) - 3
    assert list(matrix.columns) == ["path", "label", "split"] + [f"pc_{i}" for i in range(1, k + 1)]
    assert len(matrix) == sample.image_count()
    assert "weights: random" in stdout.replace("  ", "").replace(" :", ":")
    lake_resource = LakeResource(root=str(lake))
    manifests = lake_resource.manifests("image_features", sample.CLASSES)
    assert {m["weights"] for m in manifests.values()} == {"random"}
    recognition = lake_resource.manifest("fruit_classifier")
    assert recognition["accuracy"] > recognition["accuracy_floor"]
    assert f"test_accuracy: {recognition['accuracy']:.3f}" in stdout.replace("  ", "").replace(" :", ":")


@pytest.mark.slow
def test_io_manager_loads_every_asset_back(pipeline_run, spark):
    _, lake, _, _ = pipeline_run
    manager = LakeIOManager(lake=LakeResource(root=str(lake)), spark=LocalSpark(master="local[2]"), model=MobileNetResource(**RANDOM_MODEL))
    first_class = sorted(sample.CLASSES)[0]
    for asset in ("raw_images", "image_features"):
        frame = manager.load_input(build_input_context(asset_key=AssetKey(asset), partition_key=first_class))
        assert frame.count() == sample.TRAINING_PER_CLASS + sample.TEST_PER_CLASS
        assert set(r.label for r in frame.select("label").distinct().collect()) == {first_class}
    every = manager.load_input(build_input_context(asset_key=AssetKey("image_features")))
    assert every.count() == sample.image_count()
    model = manager.load_input(build_input_context(asset_key=AssetKey("pca_model")))
    assert isinstance(model, FittedPCA) and model.k >= 1
    matrix = manager.load_input(build_input_context(asset_key=AssetKey("pca_matrix")))
    assert isinstance(matrix, pd.DataFrame) and len(matrix) == sample.image_count()
    coordinates = [c for c in matrix.columns if c.startswith("pc_")]
    assert (matrix[coordinates].dtypes == np.float32).all(), "float32 coordinates, as the features"
    projected = model.transform(every).toPandas().sort_values("path").reset_index(drop=True)
    expected = matrix.sort_values("path").reset_index(drop=True)
    projected[coordinates] = projected[coordinates].astype(np.float32)
    pd.testing.assert_frame_equal(projected[expected.columns], expected, check_exact=False, rtol=1e-9)


def test_dg_check_defs(tmp_path):
    dg = Path(sys.executable).parent / "dg"
    result = subprocess.run([str(dg), "check", "defs"], cwd=REPO, env=project_env(DAGSTER_HOME=str(tmp_path)),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


@pytest.mark.slow
def test_dg_launch_of_a_partition_range_is_one_run_in_one_process(pipeline_run, tmp_path):
    """``dg launch`` over a range of classes, as the UI launches a backfill: one run, every
    step in one process, so one Spark session."""
    import shutil

    from dagster import DagsterInstance, RunsFilter

    home, lake, _, env = pipeline_run
    copy_home, copy_lake = tmp_path / "home", tmp_path / "lake"
    shutil.copytree(home / "dh", copy_home)
    shutil.copytree(lake, copy_lake)  # other raw paths: the range's features are written again (reused)
    classes = sorted(sample.CLASSES)
    dg = Path(sys.executable).parent / "dg"
    result = subprocess.run(
        [str(dg), "launch", "--job", "images_by_class", "--partition-range", f"{classes[0]}...{classes[1]}"],
        cwd=REPO, env={**env, "DAGSTER_HOME": str(copy_home), "FRUITS_LAKE": str(copy_lake)},
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    instance = DagsterInstance.from_config(str(copy_home))
    (run,) = instance.get_runs(RunsFilter(job_name="images_by_class"))
    steps = {(r.dagster_event.step_key, r.dagster_event.pid) for r in instance.all_logs(run.run_id)
             if r.dagster_event and r.dagster_event.step_key and r.dagster_event.pid}
    assert {s for s, _ in steps} >= {"raw_images", "image_features"}
    assert len({pid for _, pid in steps}) == 1, steps
    features = instance.get_latest_materialization_event(AssetKey("image_features")).asset_materialization
    assert features.metadata["rows"].value == 2 * (sample.TRAINING_PER_CLASS + sample.TEST_PER_CLASS)
    assert features.metadata["reused"].value == features.metadata["rows"].value, "same images, same model: reused"


LOCATION = "{ repositoriesOrError { ... on RepositoryConnection { nodes { location { name } } } } }"
LAKE_SETTINGS = """{ topLevelResourceDetailsOrError(resourceSelector: {repositoryLocationName: "%s",
  repositoryName: "__repository__", resourceName: "lake"}) { ... on ResourceDetails { configuredValues { key value type } } } }"""


@pytest.mark.slow
def test_dg_dev_serves_the_project_and_shows_where_settings_come_from(tmp_path):
    """``dg dev`` beside ``dagster dev``: the UI comes up, lists every asset, and shows the
    lake's root as coming from FRUITS_LAKE."""
    from fruits_assets_tests.conftest import free_port, graphql, stop_group, wait_http

    port = free_port()
    dg = Path(sys.executable).parent / "dg"
    log = open(tmp_path / "dg-dev.log", "w")
    env = project_env(DAGSTER_HOME=str(tmp_path), FRUITS_HOME=str(tmp_path), FRUITS_LAKE=str(tmp_path / "lake"))
    process = subprocess.Popen([str(dg), "dev", "--host", "127.0.0.1", "--port", str(port)], cwd=REPO, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/server_info", process)
        deadline = time.time() + 120
        while True:  # the code location loads after the server answers
            nodes = graphql(base, "{ assetNodes { assetKey { path } } }")["assetNodes"]
            if nodes or time.time() > deadline:
                break
            time.sleep(2)
        assert {n["assetKey"]["path"][-1] for n in nodes} >= {"raw_images", "image_features", "pca_matrix"}
        location = graphql(base, LOCATION)["repositoriesOrError"]["nodes"][0]["location"]["name"]
        details = graphql(base, LAKE_SETTINGS % location)["topLevelResourceDetailsOrError"]
        settings = {v["key"]: v for v in details["configuredValues"]}
        assert settings["root"]["type"] == "ENV_VAR" and settings["root"]["value"] == "FRUITS_LAKE"
        assert settings["spark_s3_scheme"]["type"] == "VALUE"
    finally:
        stop_group(process)
        log.close()
