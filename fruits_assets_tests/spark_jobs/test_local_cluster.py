"""Featurization on ``local-cluster[2,1,1024]``: two real executor JVMs."""

import json
import subprocess
import sys
import textwrap

import pytest

from fruits_assets_tests.conftest import REPO, RANDOM_MODEL

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from fruits_assets.spark_jobs import jobs
    from fruits_assets.spark_jobs.contracts import FeaturizeParams, IngestParams
    from fruits_assets.spark_jobs.mobilenet import ModelSpec
    from fruits_assets.spark_jobs.session import build_session
    source, lake, classes, model = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
    spark = build_session("local-cluster[2,1,1024]")
    jobs.run(spark, IngestParams(source_root=source, lake_root=lake, classes=classes))
    result = jobs.run(spark, FeaturizeParams(lake_root=lake, classes=classes, model=ModelSpec(**model)))
    ids = spark.read.parquet(*[result.classes[c].uri for c in classes]).select("image_id")
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1
    print("RESULT " + json.dumps({**result.to_dict(), "distinct_ids": ids.distinct().count(), "executors": executors}))
    """
)


def test_featurize_on_two_executors(lake, real_sample):
    classes = ["Apple Pink Lady 1", "Cherry Wax Black 1", "Tomato 2", "Tomato Cherry Red 1"]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, f"file://{real_sample}", f"file://{lake}", json.dumps(classes),
         json.dumps(RANDOM_MODEL)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    metrics = json.loads(result.stdout.split("RESULT ", 1)[1])
    assert metrics["executors"] == 2
    assert metrics["rows"] == metrics["distinct_ids"] == 200
    builds = metrics["model_builds_by_worker"]
    assert len(builds) >= 2, "both executors' Python workers must have run the model"
    assert set(builds.values()) == {1}
