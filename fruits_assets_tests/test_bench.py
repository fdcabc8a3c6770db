"""The benchmark code runs end to end on a few images, so it cannot rot.
(It measures nothing here: speed is checked by ``make bench``, never by tests.)"""

import json
import subprocess
import sys

import numpy as np
import psutil
import pytest

from bench import corpus
from bench.memory import PeakMemory
from fruits_assets.spark_jobs.images import decode
from fruits_assets_tests.conftest import REPO, project_env


@pytest.mark.fast
def test_repeated_images_have_unique_bytes_and_identical_pixels(tmp_path, real_sample):
    per_class = corpus.build(real_sample, tmp_path, 1300)
    files = sorted(tmp_path.glob("*/*/*.jpg"))
    assert len(files) == sum(per_class.values()) == 1300 and len(per_class) == 24
    contents = [f.read_bytes() for f in files]
    assert len(set(contents)) == 1300
    original = (real_sample / "Training" / "Apple 6").iterdir().__next__()
    copy = corpus.tagged(original.read_bytes(), 7)
    assert np.array_equal(decode(copy, 100), decode(original.read_bytes(), 100))


SPIKE = """
import time
time.sleep(0.3)
block = b"x" * (300 * 2**20)
del block
time.sleep(1.5)
"""


@pytest.mark.fast
def test_peak_memory_counts_a_spike_between_two_samples():
    """A child holds 300 MiB for a moment between the sampler's first and second
    samples: the kernel's high-water mark still reports it."""
    child = subprocess.Popen([sys.executable, "-c", SPIKE])
    with PeakMemory(interval=1.0, root=psutil.Process(child.pid)) as memory:
        child.wait()
    assert memory.peaks["driver_python"] >= 300 * 2**20


def test_benchmark_smoke(tmp_path, real_sample):
    out = tmp_path / "result.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.featurize", "--images", "24", "--baseline-images", "24", "--pca",
         "--source", str(real_sample), "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    results = json.loads(out.read_text())
    for measure in ("limit", "pipeline", "reference", "keras_single"):
        assert results[f"{measure}_images_per_second"] > 0, measure
    assert results["pipeline_over_limit"] > 0 and results["pipeline_over_reference"] > 0
    assert results["model_builds_by_worker"] and set(results["model_builds_by_worker"]) == {1}
    assert results["peak_rss_python_worker_mib"] > 0 and results["peak_rss_jvm_mib"] > 0
    assert results["pca"]["rows"] == 24 and results["pca"]["k"] == results["pca"]["sklearn_k"]
    assert "pipeline_over_limit" in result.stdout


def test_e2e_benchmark_smoke(tmp_path, real_sample):
    """``bench.e2e`` on a few hundred images: the tree has distinct images, the three runs
    report their steps, the cold run converts the network in a child process, and the
    re-run with nothing changed converts nothing and launches no class; the one after
    adding a class launches that class alone."""
    out = tmp_path / "e2e.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.e2e", "--images", "300", "--classes", "6", "--new-class-images", "40",
         "--sample", str(real_sample), "--work", str(tmp_path / "work"), "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=1200, env=project_env(),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    results = json.loads(out.read_text())
    images = sorted((tmp_path / "work" / "source").glob("*/*/*.jpg"))
    assert len(images) == 340 and len({p.read_bytes() for p in images}) == 340, "every image distinct"
    assert set(results["cold"]["steps"]) >= {"raw_images", "image_features", "pca_model", "pca_matrix"}
    assert results["e2e_over_limit"] > 0 and results["cold"]["peak_rss_jvm_mib"] > 0
    assert results["cold"]["peak_rss_converter_mib"] > 0, "the cold run converts the network in a child process"
    assert results["rerun_unchanged"]["peak_rss_converter_mib"] == 0, "a cached network is not converted again"
    assert not {"raw_images", "image_features"} & set(results["rerun_unchanged"]["steps"]), "nothing to launch"
    assert results["rerun_one_new_class"]["figures"]["raw_images"].startswith("1 class,"), "only the new class"
    assert "inferred 40" in results["rerun_one_new_class"]["figures"]["image_features"]
    assert "e2e/limit" in result.stdout
    assert 0 < results["e2e_over_limit"] < results["image_features_over_limit"], "the run is slower than its featurization step"
    for measured in (results["inference_limit_before"], results["inference_limit_after"]):
        assert measured["limit"] == max(measured["one_process"], measured["process_per_core"]) > 0
