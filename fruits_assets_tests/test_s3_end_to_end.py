"""An S3 lake and source with Spark on ``s3a://`` against a loopback S3 server (the local
deployment with ``s3://`` locations, as from a laptop): the real sample uploaded with
``fruits-assets upload``, every asset materialized by ``fruits-assets run``, every object
encrypted, every asset loaded back, and a bucket outside the EU refused."""

import io
import json
import subprocess
import sys

import pandas as pd
import pytest
from deltalake import DeltaTable

from fruits_assets_tests.conftest import REPO, make_bucket, project_env

pytestmark = pytest.mark.aws


def unencrypted(s3, bucket: str, prefix: str = "") -> list[str]:
    """Keys under ``prefix`` whose object was stored without server-side encryption."""
    return [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
        if "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key=obj["Key"])
    ]


def aws_env(home, **settings) -> dict:
    """The subprocess environment of local Spark on s3a://."""
    import os

    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}  # the s3 fixture's endpoint and keys
    return project_env(
        **aws, FRUITS_WEIGHTS="random",
        FRUITS_HOME=str(home), DAGSTER_HOME=str(home / "dagster_home"), **settings,
    )


def cli(*args: str, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fruits_assets.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_every_asset_on_s3_with_spark_on_s3a(s3, real_sample, tmp_path):
    make_bucket(s3, "fruits-eu", "eu-west-3")
    env = aws_env(tmp_path, FRUITS_LAKE="s3://fruits-eu/lake", FRUITS_SOURCE="s3://fruits-eu/source")
    sent = cli("upload", str(real_sample), "s3://fruits-eu/source", env=env)
    assert sent.returncode == 0, sent.stderr[-3000:]
    assert "1200 files: sent 1200" in sent.stdout

    run = cli("run", env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    (csv,) = [line.split(": ", 1)[1] for line in run.stdout.splitlines() if line.strip().startswith("csv:")]
    assert csv.startswith("s3://fruits-eu/lake/exports/pca_matrix/") and csv.endswith("/pca_matrix.csv")
    matrix = pd.read_csv(io.BytesIO(s3.get_object(Bucket="fruits-eu", Key=csv[len("s3://fruits-eu/"):])["Body"].read()))
    k = len(matrix.columns) - 3
    assert list(matrix.columns) == ["path", "label", "split"] + [f"pc_{i}" for i in range(1, k + 1)]
    assert len(matrix) == 1200 and matrix["label"].nunique() == 24
    assert set(matrix["split"]) == {"Training", "Test"}
    assert matrix["path"].str.startswith("s3a://fruits-eu/source/").all()

    keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="fruits-eu", Prefix="lake/")
            for o in p.get("Contents", [])]
    assert any(k.startswith("lake/tables/image_features/_delta_log/") for k in keys), "Delta over s3a://"
    assert not [k for k in keys if k.endswith("_COMMITTED")]
    assert unencrypted(s3, "fruits-eu") == []
    storage = {"AWS_ENDPOINT_URL": env["AWS_ENDPOINT_URL_S3"], "AWS_ALLOW_HTTP": "true", "AWS_REGION": "eu-west-3",
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    features = DeltaTable("s3://fruits-eu/lake/tables/image_features", storage_options=storage)
    assert len(features.to_pyarrow_table(columns=["image_id"])) == 1200, "delta-rs reads it from S3 too"

    loaded = subprocess.run([sys.executable, "-c", LOAD_EVERY_ASSET], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=600)
    assert loaded.returncode == 0, loaded.stderr[-5000:]
    assert json.loads(loaded.stdout.split("LOADED ", 1)[1]) == {
        "raw_images": 50, "image_features": 50, "pca_model": k, "pca_matrix": 1200, "fruit_classifier": 24,
    }


# Every asset loaded back from the S3 lake through the IO manager, as a notebook would.
LOAD_EVERY_ASSET = """
import json
from dagster import DagsterInstance
from pyspark.sql import DataFrame
from fruits_assets.definitions import defs
defs, instance = defs(), DagsterInstance.get()
first = sorted(instance.get_dynamic_partitions("fruit_class"))[0]
loaded = {
    "raw_images": len(defs.load_asset_value("raw_images", partition_key=first, instance=instance)),
    "image_features": defs.load_asset_value("image_features", partition_key=first, instance=instance,
                                            python_type=DataFrame).count(),
    "pca_model": defs.load_asset_value("pca_model", instance=instance).k,
    "pca_matrix": len(defs.load_asset_value("pca_matrix", instance=instance)),
    "fruit_classifier": len(defs.load_asset_value("fruit_classifier", instance=instance).classes),
}
print("LOADED " + json.dumps(loaded))
"""


def test_a_lake_outside_the_eu_is_refused(s3, tmp_path):
    make_bucket(s3, "fruits-eu-source", "eu-west-3")
    make_bucket(s3, "fruits-us", "us-east-1")
    s3.put_object(Bucket="fruits-eu-source", Key="src/Training/Kiwi/1.jpg", Body=b"x", ServerSideEncryption="AES256")
    env = aws_env(tmp_path, FRUITS_LAKE="s3://fruits-us/lake", FRUITS_SOURCE="s3://fruits-eu-source/src")
    run = cli("run", env=env)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-3000:]
    assert "us-east-1, outside the EU" in run.stderr
    assert s3.list_objects_v2(Bucket="fruits-us").get("KeyCount", 0) == 0
