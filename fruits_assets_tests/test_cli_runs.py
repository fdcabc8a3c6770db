"""``fruits-assets run`` on trees no one arranged: classes wholly in Training or wholly in
Test, names with commas, apostrophes, accents, runs of spaces or over 100 characters; and
a failing step, in a Spark job or in a Python asset, read as one short block."""

import shutil
import subprocess
import sys

import pandas as pd
import pytest

from fruits_assets import cli
from fruits_assets.defs.recognition import classifier
from fruits_assets.spark_jobs import jobs
from fruits_assets_tests.conftest import REPO, project_env
from fruits_assets_tests.corpus import ODD_NAMES

TRAINING_ONLY = ["Apple 6", "Apple Braeburn 1", "Cherry 1", "Cherry 2", "Tomato 1", "Tomato 2"]
TEST_ONLY = ["Tomato Heart 1", "Cherry Wax Red 1"]


def _split_exclusive(real_sample, target):
    """Each class wholly in one split, as published Fruits-360 subsets have them; three
    Training classes under the odd names users have."""
    names = dict(zip(TRAINING_ONLY, ODD_NAMES[:3] + TRAINING_ONLY[3:]))
    for cls in TRAINING_ONLY + TEST_ONLY:
        split = "Training" if cls in TRAINING_ONLY else "Test"
        for photo in (real_sample / "Training" / cls).iterdir():
            folder = target / split / names.get(cls, cls)
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(photo, folder / photo.name)
    long_name = ODD_NAMES[3]  # over 100 characters
    shutil.copytree(real_sample / "Test" / "Apple 6", target / "Training" / long_name)
    return [*names.values(), *TEST_ONLY, long_name]


def _run_cli(tmp_path, lake) -> str:
    """``fruits-assets run`` on ``tmp_path/source`` into ``lake``, in its own process and
    Dagster home: its console output (the run must succeed)."""
    env = project_env(FRUITS_SOURCE=str(tmp_path / "source"), FRUITS_HOME=str(tmp_path), DAGSTER_HOME=str(tmp_path / "dh"),
                      FRUITS_LAKE=str(lake))
    (tmp_path / "dh").mkdir()
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dh" / "dagster.yaml")
    run = subprocess.run([sys.executable, "-m", "fruits_assets.cli", "run"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout + run.stderr


def test_a_tree_whose_test_classes_are_not_its_training_classes_runs_to_the_end(real_sample, tmp_path):
    classes = _split_exclusive(real_sample, tmp_path / "source")
    output = _run_cli(tmp_path, tmp_path / "lake")
    assert "Traceback" not in output and " WARN " not in output
    assert "accuracy: " in output and "(hold-out, floor" in output, output
    (csv,) = (tmp_path / "lake").glob("exports/pca_matrix/*/pca_matrix.csv")
    matrix = pd.read_csv(csv)
    photos = [p for p in (tmp_path / "source").rglob("*.jpg")]
    assert len(matrix) == len(photos), "the CSV holds every photo"
    assert set(matrix["label"]) == set(classes), "names come back exactly as the folders have them"
    assert set(matrix.loc[matrix["split"] == "Test", "label"]) == set(TEST_ONLY)


@pytest.fixture
def cli_run(real_sample, tmp_path, monkeypatch, lake):
    """``run()``: ``fruits-assets run`` in this process (so faults can be injected) on three
    classes, without -v; returns (exit status, console)."""
    source = tmp_path / "source"
    for split in ("Training", "Test"):
        for cls in TRAINING_ONLY[:3]:
            shutil.copytree(real_sample / split / cls, source / split / cls)
    for name, value in project_env(FRUITS_SOURCE=str(source), FRUITS_HOME=str(tmp_path), FRUITS_LAKE=str(lake),
                                   DAGSTER_HOME=str(tmp_path / "dh")).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FRUITS_SPARK_LOG_LEVEL", cli.QUIET_LOG_LEVEL)

    def run(capfd):
        status = cli.main(["run"])
        captured = capfd.readouterr()
        return status, captured.out + captured.err

    return run


def test_a_failing_spark_job_reads_as_one_short_block(cli_run, monkeypatch, capfd):
    featurize = jobs.JOBS["featurize"]

    def failing(spark, params):  # a Python worker fails inside a Spark task
        spark.sparkContext.parallelize([0], 1).map(lambda zero: 1 / zero).collect()
        return featurize(spark, params)

    monkeypatch.setitem(jobs.JOBS, "featurize", failing)
    status, output = cli_run(capfd)
    assert status == cli.EXIT_FAILED
    block = output[output.index("fruits_assets: FAILED"):].splitlines()
    assert block[0] == "fruits_assets: FAILED at image_features for classes 'Apple 6' to 'Cherry 1'"
    assert block[1] == "  Spark job featurize failed: ZeroDivisionError: division by zero"
    assert block[2].startswith("  kept: raw_images (3 classes), rejected_images (3 classes), mobilenet_v2")
    assert "full log: run " in block[3] and "-v" in block[3] and len(block) == 4
    assert "Traceback" not in output and " ERROR " not in output and "\tat " not in output


def test_a_failing_python_asset_reads_as_one_short_block(cli_run, monkeypatch, capfd):
    def failing(matrix, seed=0):
        raise ValueError("the matrix has a row of the wrong length")

    monkeypatch.setattr(classifier, "train", failing)
    status, output = cli_run(capfd)
    assert status == cli.EXIT_FAILED
    block = output[output.index("fruits_assets: FAILED"):].splitlines()
    assert block[0] == "fruits_assets: FAILED at fruit_classifier"
    assert block[1] == "  ValueError: the matrix has a row of the wrong length"
    assert "pca_matrix" in block[2] and "image_features (3 classes)" in block[2]
    assert "Traceback" not in output and len(block) == 4


def test_250_small_classes_run_to_the_end_quietly(tmp_path, model_cache):
    """Hundreds of classes: every photo in the CSV, and no Spark or JVM warning on the console."""
    from fruits_assets_tests.conftest import seed_lake
    from fruits_assets_tests.corpus import many_classes

    classes = many_classes(tmp_path / "source", 250, odd=ODD_NAMES)
    lake = seed_lake(tmp_path / "lake", model_cache)
    output = _run_cli(tmp_path, lake)
    for noise in (" WARN ", " ERROR ", "Traceback", "INFO:", "Warning"):
        assert noise not in output, output
    assert len(output.splitlines()) <= 30
    (csv,) = (lake / "exports").glob("pca_matrix/*/pca_matrix.csv")
    matrix = pd.read_csv(csv)
    assert len(matrix) == 1000 and sorted(matrix["label"].unique()) == classes
