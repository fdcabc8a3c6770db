"""Faults: a writer killed while Spark writes a table's files, or between ingest's two
commits, and a Python worker killed on a real executor. Each leaves every table readable
at its last commit, and a rerun ends with every image featurized exactly once."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from fruits_assets_tests.conftest import REPO, run_images

CLASSES = ["Apple Red 1", "Cherry 1", "Tomato 1"]

WRITER = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    from fruits_assets.spark_jobs import tables
    from fruits_assets.spark_jobs.session import build_session
    from fruits_assets_tests.conftest import run_images
    source, lake, classes, die_between_commits = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
    if die_between_commits == "yes":  # killed once ingest committed rejected_images, before raw_images
        original = tables.replace_classes
        def replace_classes(df, location, classes, commit_info):
            original(df, location, classes, commit_info)
            if location.endswith("/rejected_images"):
                os.killpg(os.getpgid(0), signal.SIGKILL)
        tables.replace_classes = replace_classes
    spark = build_session("local[2]")
    run_images(spark, source, lake, classes, force=True)
    """
)


def _versions(lake: Path) -> dict:
    return {name: DeltaTable(str(lake / "tables" / name)).version()
            for name in ("raw_images", "rejected_images", "image_features")}


def _one_feature_per_image(lake: Path) -> None:
    features = DeltaTable(str(lake / "tables" / "image_features")).to_pandas(columns=["image_id"])
    assert len(features) == features["image_id"].nunique() == 150


def _writer(source: Path, lake: Path, die_between_commits: bool) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(source), str(lake), json.dumps(CLASSES),
                             "yes" if die_between_commits else "no"], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when_features_are_being_written(process: subprocess.Popen, lake: Path, timeout: float = 300) -> None:
    table = lake / "tables" / "image_features"
    before = {p for p in table.rglob("part-*")}
    deadline = time.monotonic() + timeout
    while not set(table.rglob("part-*")) - before:
        assert process.poll() is None, "the writer finished before it could be killed"
        assert time.monotonic() < deadline, "the writer never started writing"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.parametrize("moment", ["while_spark_writes_the_features", "between_ingests_two_commits"])
def test_killed_writer_leaves_every_table_readable_and_a_rerun_completes(spark, real_sample, lake, moment):
    run_images(spark, real_sample, lake, CLASSES)
    before = _versions(lake)

    process = _writer(real_sample, lake, die_between_commits=moment == "between_ingests_two_commits")
    if moment == "while_spark_writes_the_features":
        _kill_when_features_are_being_written(process, lake)
    else:
        process.wait(timeout=600)
    assert process.returncode == -signal.SIGKILL

    after = _versions(lake)
    assert after["image_features"] == before["image_features"], "no commit: the previous version stands"
    if moment == "between_ingests_two_commits":
        assert after["raw_images"] == before["raw_images"], "killed before raw_images' commit"
    _one_feature_per_image(lake)

    rerun = _writer(real_sample, lake, die_between_commits=False)
    assert rerun.wait(timeout=600) == 0
    assert all(version > before[name] for name, version in _versions(lake).items() if name != "rejected_images")
    _one_feature_per_image(lake)


EXECUTOR_KILL = textwrap.dedent(
    """
    import json, signal, sys, threading, time
    from pathlib import Path
    import psutil
    from deltalake import DeltaTable
    from fruits_assets.spark_jobs.session import build_session
    from fruits_assets_tests.conftest import run_images

    source, lake, classes = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    spark = build_session("local-cluster[2,1,1024]")

    def executor_python_workers():
        for process in psutil.Process().children(recursive=True):
            try:
                parent = process.parent()
                if "pyspark.daemon" in " ".join(process.cmdline()) and "pyspark.daemon" in " ".join(parent.cmdline()):
                    yield process
            except psutil.Error:
                continue

    killed, done = [], threading.Event()

    def killer():  # kill the first Python worker seen busy featurizing for 0.7 s of CPU
        while not started.is_set():
            time.sleep(0.05)
        baseline = {p.pid: sum(p.cpu_times()[:2]) for p in executor_python_workers()}
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

    started = threading.Event()
    from fruits_assets.spark_jobs import jobs
    original = jobs.JOBS["featurize"]
    def featurize(spark, params):
        started.set()
        return original(spark, params)
    jobs.JOBS["featurize"] = featurize
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    _, result = run_images(spark, source, lake, classes)
    done.set()
    thread.join()
    ids = DeltaTable(str(lake / "tables" / "image_features")).to_pandas(columns=["image_id"])["image_id"]
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1
    print("RESULT " + json.dumps({"killed": killed, "rows": len(ids), "distinct_ids": ids.nunique(),
                                  "result_rows": result.rows, "executors": executors,
                                  "builds": result.model_builds_by_worker}))
    """
)


def _on_executors(lake: Path, real_sample: Path, classes: list[str]) -> dict:
    result = subprocess.run([sys.executable, "-c", EXECUTOR_KILL, str(real_sample), str(lake), json.dumps(classes)],
                            cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-5000:]
    return json.loads(result.stdout.split("RESULT ", 1)[1])


def test_killing_a_python_worker_on_an_executor_loses_and_duplicates_nothing(lake, real_sample):
    classes = ["Apple Braeburn 1", "Apple Crimson Snow 1", "Cherry 2", "Cherry Wax Red 1",
               "Tomato Heart 1", "Tomato Maroon 1", "Apple Granny Smith 1", "Cherry Wax Yellow 1"]
    outcome = _on_executors(lake, real_sample, classes)
    assert outcome["executors"] == 2
    assert len(outcome["killed"]) == 1, "a busy executor Python worker must have been killed"
    assert outcome["rows"] == outcome["distinct_ids"] == outcome["result_rows"] == 50 * len(classes)
    assert len(outcome["builds"]) >= 2, "both executors' Python workers ran the model"
