"""Shared fixtures: one local Spark session, the real sample, a cached model."""

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from fruits_assets.spark_jobs import jobs
from fruits_assets.spark_jobs.contracts import FeaturizeParams, IngestParams
from fruits_assets.spark_jobs.mobilenet import ModelSpec
from fruits_assets.spark_jobs.layout import MODEL_CACHE
from fruits_assets.spark_jobs.session import build_session

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = REPO.parent / "shared" / "fruits-360-sample"
RANDOM_MODEL = {"weights": "random", "seed": 7}

# For writer scripts run in a subprocess: call die_inside_first_commit() to be killed
# inside the first commit (data moved, or copied on S3; _COMMITTED not yet written).
KILL_INSIDE_FIRST_COMMIT = """
def die_inside_first_commit():
    import os, signal
    from fruits_assets.spark_jobs import hadoop_fs
    original = hadoop_fs.HadoopFS.write_bytes
    def write_bytes(self, uri, data):
        if uri.endswith("/_COMMITTED"):
            os.killpg(os.getpgid(0), signal.SIGKILL)
        return original(self, uri, data)
    hadoop_fs.HadoopFS.write_bytes = write_bytes
"""


@pytest.fixture(scope="session")
def spark():
    session = build_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def real_sample() -> Path:
    if not (SHARED_SAMPLE / "Training").is_dir():
        pytest.fail(f"The real Fruits-360 sample is expected at {SHARED_SAMPLE} (see DEVELOPERS.md).")
    return SHARED_SAMPLE


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory, spark) -> Path:
    """A lake model cache holding the seeded-random LiteRT and Keras bundles, built once."""
    from fruits_assets.spark_jobs.featurize import load_bundle
    from fruits_assets.spark_jobs.mobilenet import ModelSpec
    from fruits_assets.spark_jobs.versioned import VersionedLake

    lake = tmp_path_factory.mktemp("model-lake")
    for backend in ("litert", "keras"):
        load_bundle(VersionedLake(spark, f"file://{lake}"), ModelSpec(**RANDOM_MODEL, backend=backend))
    return lake / MODEL_CACHE


def project_env(*drop_prefixes: str, **settings: str) -> dict:
    """This process's environment without its FRUITS_/DAGSTER_ settings (and any other
    ``drop_prefixes``), on local[2] Spark with seeded random weights (ImageNet cannot be
    downloaded in CI), plus ``settings``: for subprocesses."""
    dropped = ("FRUITS_", "DAGSTER_", *drop_prefixes)
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return {**env, "FRUITS_SPARK_MASTER": "local[2]", "FRUITS_WEIGHTS": "random", **settings}


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory):
    """``python -m fruits_assets.cli run`` on the embedded sample, lake moved by FRUITS_LAKE:
    (home, lake, its output: stdout then stderr, environment of the run)."""
    import subprocess
    import sys

    home = tmp_path_factory.mktemp("home")
    lake = tmp_path_factory.mktemp("elsewhere") / "lake"
    env = project_env(FRUITS_HOME=str(home), FRUITS_LAKE=str(lake), DAGSTER_HOME=str(home / "dh"))
    result = subprocess.run(
        [sys.executable, "-m", "fruits_assets.cli", "run"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return home, lake, result.stdout + result.stderr, env


def seed_lake(root: Path, model_cache: Path) -> Path:
    """``root`` as a new lake whose model cache is already filled."""
    shutil.copytree(model_cache, root / MODEL_CACHE)
    return root


@pytest.fixture
def lake(tmp_path, model_cache) -> Path:
    return seed_lake(tmp_path / "lake", model_cache)


def lake_uri(path: Path) -> str:
    return f"file://{path}"


def current_dir(spark, lake: Path, table: str, partition: str) -> Path:
    """The folder of the current committed version of one partition of ``table``."""
    from fruits_assets.spark_jobs.versioned import VersionedLake

    return Path(VersionedLake(spark, lake_uri(lake)).current(table, partition).removeprefix("file://"))


def run_images(spark, source: Path, lake: Path, classes: list[str], model=None) -> tuple[dict, dict]:
    """Ingest and featurize ``classes``; return both jobs' metrics."""
    ingested = jobs.run(spark, IngestParams(source_root=f"file://{source}", lake_root=lake_uri(lake), classes=classes)
    )
    featurized = jobs.run(spark, FeaturizeParams(lake_root=lake_uri(lake), classes=classes, model=ModelSpec(**(model or RANDOM_MODEL)))
    )
    return ingested, featurized


@pytest.fixture(scope="session")
def s3_server():
    """A moto S3 (and STS) server on loopback, recording every request it receives."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """Fake credentials and the endpoint in the environment (subprocesses inherit them).
    After the test, every object left in any bucket must have been written with
    server-side encryption (moto, like S3 without a bucket default, records only what
    the PutObject asked for)."""
    import boto3
    import requests

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_ENDPOINT_URL_S3": s3_server, "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    requests.post(f"{s3_server}/moto-api/reset")
    client = boto3.client("s3", endpoint_url=s3_server)
    yield client
    unencrypted = [
        f"s3://{bucket['Name']}/{obj['Key']}"
        for bucket in client.list_buckets()["Buckets"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"])
        for obj in page.get("Contents", [])
        if "ServerSideEncryption" not in client.head_object(Bucket=bucket["Name"], Key=obj["Key"])
    ]
    assert not unencrypted, f"objects written without server-side encryption: {unencrypted[:5]}"


def make_bucket(client, name: str, region: str) -> str:
    """A bucket in ``region`` (GetBucketLocation will say so)."""
    import boto3

    regional = boto3.client("s3", endpoint_url=client.meta.endpoint_url, region_name=region)
    if region == "us-east-1":
        regional.create_bucket(Bucket=name)
    else:
        regional.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return name


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert process.poll() is None, "the server exited early"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


def graphql(base: str, query: str) -> dict:
    """The ``data`` of a GraphQL query (or mutation) to the Dagster webserver at ``base``."""
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def stop_group(process: subprocess.Popen) -> None:
    """Stop a server started in its own session, and its children (``dagster dev``
    started in the background ignores SIGTERM: its children are killed after a minute)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
