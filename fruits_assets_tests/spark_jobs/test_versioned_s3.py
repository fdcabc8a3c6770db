"""The versioned lake on S3, where a rename is a copy plus a delete: a writer killed
during its Spark write or inside a commit leaves the previous versions readable, and a
rerun completes with no duplicates and one version per class."""

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from fruits_assets.resources import LakeResource
from fruits_assets.resources.s3a import fetch_jars
from fruits_assets.spark_jobs.layout import MODEL_CACHE, STAGING, TABLES
from fruits_assets.spark_jobs.versioned import COMMITTED
from fruits_assets_tests.conftest import KILL_INSIDE_FIRST_COMMIT, RANDOM_MODEL, REPO, make_bucket

pytestmark = pytest.mark.aws

CLASSES = ["Apple Red 1", "Cherry 1", "Tomato 1"]
BUCKET, LAKE = "fruits-faults", "s3a://fruits-faults/lake"

JOB = KILL_INSIDE_FIRST_COMMIT + textwrap.dedent(
    """
    import json, sys
    from fruits_assets.resources import s3a
    from fruits_assets.spark_jobs import jobs
    from fruits_assets.spark_jobs.contracts import FeaturizeParams, IngestParams
    from fruits_assets.spark_jobs.mobilenet import ModelSpec
    from fruits_assets.spark_jobs.session import build_session
    source, lake, classes, model, moment = sys.argv[1:6]
    classes, model = json.loads(classes), json.loads(model)
    if moment == "inside_a_commit":
        die_inside_first_commit()
    spark = build_session("local[2]", s3a.spark_conf("pypi"))
    if moment == "ingest":
        jobs.run(spark, IngestParams(source_root=source, lake_root=lake, classes=classes))
    jobs.run(spark, FeaturizeParams(lake_root=lake, classes=classes, model=ModelSpec(**model), force=True))
    """
)


def _job(source, moment: str) -> subprocess.Popen:
    command = [sys.executable, "-c", JOB, f"file://{source}", LAKE, json.dumps(CLASSES), json.dumps(RANDOM_MODEL), moment]
    return subprocess.Popen(command, cwd=REPO, start_new_session=True, env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _keys(s3, prefix: str) -> dict[str, str]:
    return {
        o["Key"]: o["ETag"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        for o in page.get("Contents", [])
    }


def _snapshot(lake: LakeResource, s3) -> dict:
    """{class: (current version, {key: etag})} of image_features."""
    snapshot = {}
    for cls in CLASSES:
        current = lake.current_version("image_features", cls)
        snapshot[cls] = (current, _keys(s3, f"lake/{current}/"))
    return snapshot


def _features(lake: LakeResource, s3) -> pd.DataFrame:
    """Every row of the current image_features versions, read with pyarrow (no Spark)."""
    frames = []
    for cls in CLASSES:
        for key in _keys(s3, f"lake/{lake.current_version('image_features', cls)}/"):
            if key.endswith(".parquet"):
                frames.append(pd.read_parquet(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())))
    return pd.concat(frames)


def _kill_when_staging_has_files(process: subprocess.Popen, s3, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not any("part-" in key for key in _keys(s3, f"lake/{STAGING}/")):
        assert process.poll() is None, f"the writer finished before it could be killed: {process.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "the writer never started writing"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_killed_writers_on_the_s3_lake_lose_nothing_and_reruns_complete(s3, real_sample, model_cache):
    fetch_jars()
    make_bucket(s3, BUCKET, "eu-west-3")
    for bundle in model_cache.iterdir():  # the converted network, as image_features' asset would leave it
        s3.put_object(Bucket=BUCKET, Key=f"lake/{MODEL_CACHE}/{bundle.name}", Body=bundle.read_bytes(),
                      ServerSideEncryption="AES256")
    lake = LakeResource(root="s3://fruits-faults/lake")
    first = _job(real_sample, "ingest")
    assert first.wait(timeout=600) == 0, first.stderr.read()[-5000:]

    for moment in ("during_the_spark_write", "inside_a_commit"):
        before = _snapshot(lake, s3)
        process = _job(real_sample, moment)
        if moment == "during_the_spark_write":
            _kill_when_staging_has_files(process, s3)
        else:
            process.wait(timeout=600)
        assert process.returncode == -signal.SIGKILL, moment
        if moment == "inside_a_commit":
            location = f"lake/{TABLES['image_features']}/{CLASSES[0]}/"
            uncommitted = {k.split("/")[-2] for k in _keys(s3, location) if "part-" in k} - {before[CLASSES[0]][0].split("/")[-1]}
            assert uncommitted, "the killed commit left a copied version without its marker"
            assert not any(k.endswith(f"{v}/{COMMITTED}") for v in uncommitted for k in _keys(s3, location))

        assert _snapshot(lake, s3) == before, f"{moment}: the previous versions must be untouched"
        features = _features(lake, s3)
        assert len(features) == features["image_id"].nunique() == 150

        rerun = _job(real_sample, "featurize")
        assert rerun.wait(timeout=600) == 0, rerun.stderr.read()[-5000:]
        after = _snapshot(lake, s3)
        assert all(after[c][0] != before[c][0] for c in CLASSES), "the rerun commits new versions"
        for cls in CLASSES:
            versions = {k.split("/")[-2] for k in _keys(s3, f"lake/{TABLES['image_features']}/{cls}/")}
            assert versions == {after[cls][0].split("/")[-1]}, f"{moment}: one version of {cls} remains"
        features = _features(lake, s3)
        assert len(features) == features["image_id"].nunique() == 150
