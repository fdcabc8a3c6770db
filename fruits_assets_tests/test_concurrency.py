"""Two pipeline runs for the same classes launched at once: their Spark steps are
serialized (the instance's "spark" pool, shared through DAGSTER_HOME), and the lake
ends exactly as after one run."""

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from dagster import DagsterEventType, DagsterInstance, RunsFilter
from deltalake import DeltaTable

from fruits_assets.definitions import defs
from fruits_assets.defs.shared import SPARK_POOL
from fruits_assets_tests.conftest import REPO, project_env

CLASSES = ["Cherry 1", "Tomato Yellow 1"]


def _env(home, lake, source) -> dict:
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)  # as `make` sets it up: the pools are in its config
    shutil.copy(REPO / "dagster.yaml", home / "dagster_home" / "dagster.yaml")
    return project_env(FRUITS_HOME=str(home), DAGSTER_HOME=str(home / "dagster_home"), FRUITS_LAKE=str(lake),
                       FRUITS_SOURCE=str(source), FRUITS_WEIGHTS="random")


def _launch(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fruits_assets.cli", "run"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process) -> str:
    out, _ = process.communicate(timeout=900)
    assert process.returncode == 0, out[-5000:]
    return out


def _spark_steps() -> set[str]:
    """Steps in the "spark" pool."""
    job = defs().resolve_implicit_global_asset_job_def()
    return {node.name for node in job.graph.node_defs if node.pool == SPARK_POOL}


def _step_intervals(home) -> list[tuple[float, float, str]]:
    """(start, end, run:step) of every Spark step of every run in the instance."""
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    instance = DagsterInstance.get()
    spark_steps, intervals = _spark_steps(), []
    for run in instance.get_runs(RunsFilter()):
        starts = {}
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is None or event.step_key not in spark_steps:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                starts[event.step_key] = record.timestamp
            elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                intervals.append((starts[event.step_key], record.timestamp, f"{run.run_id[:8]}:{event.step_key}"))
    return sorted(intervals)


def _features(lake) -> pd.DataFrame:
    return DeltaTable(str(lake / "tables" / "image_features")).to_pandas().sort_values("image_id").reset_index(drop=True)


def test_two_runs_at_once_are_serialized_and_equal_one_run(tmp_path, real_sample, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    source = tmp_path / "source"
    for split in ("Training", "Test"):
        for cls in CLASSES:
            shutil.copytree(real_sample / split / cls, source / split / cls)
    shared, single = tmp_path / "shared", tmp_path / "single"
    first = _launch(_env(shared, shared / "lake", source))
    time.sleep(5)  # both register the same partitions; let the first do it
    second = _launch(_env(shared, shared / "lake", source))
    _finish(first), _finish(second)

    intervals = _step_intervals(shared)
    assert len(intervals) == 2 * len(_spark_steps()) == 8, intervals  # 4 Spark assets x 2 runs (checks need no Spark)
    for (_, end, before), (start, _, after) in zip(intervals, intervals[1:]):
        assert end <= start, f"{before} overlaps {after}"

    _finish(_launch(_env(single, single / "lake", source)))
    concurrent, alone = _features(shared / "lake"), _features(single / "lake")
    assert len(concurrent) == concurrent["image_id"].nunique() == 100
    assert list(concurrent["image_id"]) == list(alone["image_id"])
    assert np.array_equal(np.stack(concurrent["features"]), np.stack(alone["features"]))
    csv_shared = list((shared / "lake").glob("exports/pca_matrix/*/pca_matrix.csv"))
    csv_single = list((single / "lake").glob("exports/pca_matrix/*/pca_matrix.csv"))
    assert len(csv_shared) == len(csv_single) == 1
    assert csv_shared[0].read_bytes() == csv_single[0].read_bytes()
