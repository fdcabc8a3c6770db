"""The whole pipeline as a user runs it (``fruits-assets run`` on the embedded sample): its
console, the Delta tables any engine reads, the CSV, every asset loaded back, an unchanged
re-run that starts no Spark, ``dg launch`` of a range and ``dg dev``."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import AssetKey, DagsterInstance, RunsFilter
from deltalake import DeltaTable
from pyspark.sql import DataFrame as SparkDataFrame

from fruits_assets import sample
from fruits_assets.spark_jobs.pca_model import FittedPCA
from fruits_assets_tests.conftest import REPO, free_port, graphql, stop_group, wait_http

TABLES = ("raw_images", "rejected_images", "image_features")


def test_the_run_reads_in_a_few_quiet_lines_and_writes_the_csv_into_fruits_lake(pipeline_run):
    home, lake, output, _ = pipeline_run
    assert len(output.splitlines()) <= 30, f"a first run reads in 30 lines at most:\n{output}"
    for noise in ("DEBUG", "WARN ", "WARNING:", "Traceback", "BetaWarning", "PreviewWarning", "INFO:", "ERROR"):
        assert noise not in output.replace("WARNING: features use random weights", ""), noise
    for asset in ("raw_images", "image_features", "pca_model", "pca_matrix", "fruit_classifier"):
        assert f"  {asset} " in output, f"one line for {asset}"
    assert not (home / ".lake").exists(), "FRUITS_LAKE must receive every output"
    (csv,) = lake.glob("exports/pca_matrix/*/pca_matrix.csv")
    assert str(csv) in output
    matrix = pd.read_csv(csv)
    k = len(matrix.columns) - 3
    assert list(matrix.columns) == ["path", "label", "split"] + [f"pc_{i}" for i in range(1, k + 1)]
    assert len(matrix) == sample.image_count()
    assert "weights: random" in output.replace("  ", "").replace(" :", ":")


def test_the_tables_are_delta_tables_any_engine_reads_with_the_run_ids_in_their_history(pipeline_run, spark):
    _, lake, _, env = pipeline_run
    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    runs = {r.run_id for r in instance.get_runs(RunsFilter(job_name="images_by_class"))}
    for name in TABLES:
        table = DeltaTable(str(lake / "tables" / name))  # delta-rs, without the project's code
        assert table.metadata().partition_columns == ["label"]
        assert {json.loads(entry["userMetadata"])["dagster_run_id"] for entry in table.history()} <= runs
        by_rust = table.to_pandas()
        by_spark = spark.read.format("delta").load(str(lake / "tables" / name)).toPandas()
        assert len(by_rust) == len(by_spark) and set(by_rust["path"]) == set(by_spark["path"])
    assert len(DeltaTable(str(lake / "tables" / "raw_images")).to_pandas()) == sample.image_count()
    assert set(DeltaTable(str(lake / "tables" / "raw_images")).to_pandas()["label"]) == set(sample.CLASSES)
    assert not list(lake.rglob("_COMMITTED"))


def test_every_asset_loads_back_for_python(pipeline_run, monkeypatch):
    from fruits_assets.definitions import defs

    _, lake, _, env = pipeline_run
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    loaded = defs()
    first = sorted(sample.CLASSES)[0]
    raw = loaded.load_asset_value(AssetKey("raw_images"), partition_key=first, instance=instance)
    assert isinstance(raw, pd.DataFrame) and set(raw["label"]) == {first}
    assert len(raw) == sample.TRAINING_PER_CLASS + sample.TEST_PER_CLASS
    every = loaded.load_asset_value(AssetKey("image_features"), instance=instance, python_type=SparkDataFrame)
    assert isinstance(every, SparkDataFrame) and every.count() == sample.image_count()
    model = loaded.load_asset_value(AssetKey("pca_model"), instance=instance)
    assert isinstance(model, FittedPCA) and model.k >= 1
    matrix = loaded.load_asset_value(AssetKey("pca_matrix"), instance=instance)
    assert isinstance(matrix, pd.DataFrame) and len(matrix) == sample.image_count()
    coordinates = [c for c in matrix.columns if c.startswith("pc_")]
    assert (matrix[coordinates].dtypes == np.float32).all(), "float32 coordinates, as the features"
    projected = model.transform(every).toPandas().sort_values("path").reset_index(drop=True)
    expected = matrix.sort_values("path").reset_index(drop=True)
    projected[coordinates] = projected[coordinates].astype(np.float32)
    pd.testing.assert_frame_equal(projected[expected.columns], expected, check_exact=False, rtol=1e-9)
    assert loaded.load_asset_value(AssetKey("fruit_classifier"), instance=instance).classes == sorted(sample.CLASSES)
    assert len(loaded.load_asset_value(AssetKey("mobilenet_v2"), instance=instance)) > 1_000_000


def test_an_unchanged_rerun_launches_no_class_starts_no_spark_and_keeps_everything(pipeline_run, tmp_path):
    home, lake, _, env = pipeline_run
    copy_home, copy_lake = tmp_path / "dh", tmp_path / "lake"
    shutil.copytree(home / "dh", copy_home)
    shutil.copytree(lake, copy_lake)
    # a master no Spark session can start with: the run must not need one
    rerun_env = {**env, "DAGSTER_HOME": str(copy_home), "FRUITS_LAKE": str(copy_lake), "FRUITS_SPARK_MASTER": "unusable"}
    started = time.monotonic()
    rerun = subprocess.run([sys.executable, "-m", "fruits_assets.cli", "run"], cwd=REPO, env=rerun_env,
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert time.monotonic() - started < 60
    lines = {line.split()[0]: line for line in rerun.stdout.splitlines() if line.startswith("  ") and line.split()}
    assert "4 classes up to date" in lines["images_by_class"], rerun.stdout
    assert "raw_images" not in lines and "image_features" not in lines
    runs = DagsterInstance.from_config(str(copy_home)).get_runs(RunsFilter(job_name="images_by_class"))
    assert len(runs) == len(DagsterInstance.from_config(str(home / "dh")).get_runs(RunsFilter(job_name="images_by_class")))
    for asset in ("pca_model", "pca_matrix", "fruit_classifier"):
        assert "unchanged True" in lines[asset], asset


def test_dg_launch_of_a_partition_range_is_one_run_in_one_process(pipeline_run, tmp_path):
    """``dg launch`` over a range of classes, as the UI launches a backfill: one run, every
    step in one process, so one Spark session."""
    home, lake, _, env = pipeline_run
    copy_home, copy_lake = tmp_path / "home", tmp_path / "lake"
    shutil.copytree(home / "dh", copy_home)
    shutil.copytree(lake, copy_lake)
    classes = sorted(sample.CLASSES)
    dg = Path(sys.executable).parent / "dg"
    result = subprocess.run(
        [str(dg), "launch", "--job", "images_by_class", "--partition-range", f"{classes[0]}...{classes[1]}",
         "--config-json", json.dumps({"ops": {"raw_images": {"config": {"force": True}}}})],
        cwd=REPO, env={**env, "DAGSTER_HOME": str(copy_home), "FRUITS_LAKE": str(copy_lake)},
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    instance = DagsterInstance.from_config(str(copy_home))
    run = instance.get_runs(RunsFilter(job_name="images_by_class"), limit=1)[0]
    steps = {(r.dagster_event.step_key, r.dagster_event.pid) for r in instance.all_logs(run.run_id)
             if r.dagster_event and r.dagster_event.step_key and r.dagster_event.pid}
    assert {s for s, _ in steps} >= {"raw_images", "image_features"}
    assert len({pid for _, pid in steps}) == 1, steps
    ingest = instance.get_latest_materialization_event(AssetKey("raw_images")).asset_materialization
    assert ingest.metadata["ingested_classes"].value == 2, "forced: both classes read again"
    features = instance.get_latest_materialization_event(AssetKey("image_features")).asset_materialization
    assert features.metadata["inferred"].value == 0, "same images, same model: nothing inferred"


LOCATION = "{ repositoriesOrError { ... on RepositoryConnection { nodes { location { name } } } } }"
LAKE_SETTINGS = """{ topLevelResourceDetailsOrError(resourceSelector: {repositoryLocationName: "%s",
  repositoryName: "__repository__", resourceName: "lake"}) { ... on ResourceDetails { configuredValues { key value type } } } }"""


def test_dg_dev_serves_the_project_and_shows_where_settings_come_from(tmp_path):
    """``dg dev`` beside ``dagster dev``: the UI comes up, lists every asset, and shows the
    lake's root as coming from FRUITS_LAKE."""
    from fruits_assets_tests.conftest import project_env

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
