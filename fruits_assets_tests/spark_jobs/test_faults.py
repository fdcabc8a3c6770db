"""Faults: a writer killed midway, a Python worker killed on a real executor.
Each ends with every image featurized exactly once and nothing readable lost."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fruits_assets.spark_jobs.layout import STAGING
from fruits_assets.spark_jobs.versioned import VersionedLake
from fruits_assets_tests.conftest import KILL_INSIDE_FIRST_COMMIT, REPO, RANDOM_MODEL, current_dir, lake_uri, run_images

pytestmark = pytest.mark.slow

CLASSES = ["Apple Red 1", "Cherry 1", "Tomato 1"]

FEATURIZE = KILL_INSIDE_FIRST_COMMIT + textwrap.dedent(
    """
    import json, sys
    from fruits_assets.spark_jobs import jobs
    from fruits_assets.spark_jobs.contracts import FeaturizeParams, IngestParams
    from fruits_assets.spark_jobs.mobilenet import ModelSpec
    from fruits_assets.spark_jobs.session import build_session
    lake, classes, model, kill_at_marker = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
    if kill_at_marker == "yes":
        die_inside_first_commit()
    spark = build_session("local[2]")
    jobs.run(spark, FeaturizeParams(lake_root=lake, classes=classes, model=ModelSpec(**model), force=True))
    """
)


def _snapshot(spark, lake: Path) -> dict:
    """{class: (current version, {file: sha256})} of image_features."""
    snapshot = {}
    for cls in CLASSES:
        current = current_dir(spark, lake, "image_features", cls)
        files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(current.iterdir())}
        snapshot[cls] = (current, files)
    return snapshot


def _featurize(lake: Path, kill_at_marker: bool) -> subprocess.Popen:
    command = [sys.executable, "-c", FEATURIZE, lake_uri(lake), json.dumps(CLASSES), json.dumps(RANDOM_MODEL),
               "yes" if kill_at_marker else "no"]
    return subprocess.Popen(command, cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when_staging_has_files(process: subprocess.Popen, lake: Path, timeout: float = 300) -> None:
    staging = lake / STAGING
    deadline = time.monotonic() + timeout
    while not any(staging.rglob("part-*")):
        assert process.poll() is None, "the writer finished before it could be killed"
        assert time.monotonic() < deadline, "the writer never started writing"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.parametrize("moment", ["during_the_spark_write", "inside_a_commit"])
def test_killed_writer_leaves_previous_version_readable_and_a_rerun_completes(
    spark, real_sample, lake, moment
):
    run_images(spark, real_sample, lake, CLASSES)
    before = _snapshot(spark, lake)

    process = _featurize(lake, kill_at_marker=moment == "inside_a_commit")
    if moment == "during_the_spark_write":
        _kill_when_staging_has_files(process, lake)
    else:
        process.wait(timeout=600)
    assert process.returncode == -signal.SIGKILL

    assert _snapshot(spark, lake) == before, "the previous versions must be untouched"
    versioned = VersionedLake(spark, lake_uri(lake))
    features = versioned.read_parquet("image_features", CLASSES)
    assert features.count() == features.select("image_id").distinct().count() == 150

    rerun = _featurize(lake, kill_at_marker=False)
    assert rerun.wait(timeout=600) == 0
    after = _snapshot(spark, lake)
    assert all(after[c][0] != before[c][0] for c in CLASSES), "the rerun commits new versions"
    assert all(len(list(after[c][0].parent.iterdir())) == 1 for c in CLASSES), "one version per class remains"
    features = versioned.read_parquet("image_features", CLASSES)
    assert features.count() == features.select("image_id").distinct().count() == 150


EXECUTOR_KILL = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    import psutil
    from fruits_assets.spark_jobs import jobs
    from fruits_assets.spark_jobs.contracts import FeaturizeParams, IngestParams
    from fruits_assets.spark_jobs.mobilenet import ModelSpec
    from fruits_assets.spark_jobs.session import build_session

    source, lake, classes, model = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
    spark = build_session("local-cluster[2,1,1024]")
    jobs.run(spark, IngestParams(source_root=source, lake_root=lake, classes=classes))

    def executor_python_workers():
        for process in psutil.Process().children(recursive=True):
            try:
                parent = process.parent()
                if "pyspark.daemon" in " ".join(process.cmdline()) and "pyspark.daemon" in " ".join(parent.cmdline()):
                    yield process
            except psutil.Error:
                continue

    baseline = {p.pid: sum(p.cpu_times()[:2]) for p in executor_python_workers()}
    killed = []

    def killer():  # kill the first Python worker seen busy for 0.7 s of CPU in this job
        while not killed and not done.is_set():
            for process in executor_python_workers():
                try:
                    if sum(process.cpu_times()[:2]) - baseline.get(process.pid, 0.0) > 0.7:
                        process.send_signal(signal.SIGKILL)
                        killed.append(process.pid)
                        break
                except psutil.Error:
                    continue
            time.sleep(0.05)

    done = threading.Event()
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    metrics = jobs.run(spark, FeaturizeParams(lake_root=lake, classes=classes, model=ModelSpec(**model)))
    done.set()
    thread.join()
    features = spark.read.parquet(*[metrics.classes[c].uri for c in classes])
    print("RESULT " + json.dumps({
        "killed": killed,
        "rows": features.count(),
        "distinct_ids": features.select("image_id").distinct().count(),
        "metrics_rows": metrics.rows,
    }))
    """
)


def test_killing_a_python_worker_on_an_executor_loses_and_duplicates_nothing(lake, real_sample):
    classes = ["Apple Braeburn 1", "Apple Crimson Snow 1", "Cherry 2", "Cherry Wax Red 1",
               "Tomato Heart 1", "Tomato Maroon 1", "Apple Granny Smith 1", "Cherry Wax Yellow 1"]
    result = subprocess.run(
        [sys.executable, "-c", EXECUTOR_KILL, f"file://{real_sample}", lake_uri(lake), json.dumps(classes),
         json.dumps(RANDOM_MODEL)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    outcome = json.loads(result.stdout.split("RESULT ", 1)[1])
    assert len(outcome["killed"]) == 1, "a busy executor Python worker must have been killed"
    assert outcome["rows"] == outcome["distinct_ids"] == outcome["metrics_rows"] == 50 * len(classes)
