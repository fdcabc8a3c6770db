"""Shared fixtures: one local Spark session, the real sample, the converted networks, lakes,
the project's definitions on a test lake, a loopback S3 server.

Tests marked ``fast`` start no JVM and no TensorFlow (``make test-fast``); every other
test is in the rest of the suite."""

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fruits_assets.spark_jobs.mobilenet import ModelSpec, bundle, cache_key

REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = REPO.parent / "shared" / "fruits-360-sample"
RANDOM_MODEL = {"weights": "random"}  # ImageNet weights cannot be downloaded in CI
MODEL_CACHE = "models/mobilenet_v2"


def pytest_collection_modifyitems(items):
    """A test that asks for the ``spark`` fixture is never in the fast tier."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()) and item.get_closest_marker("fast"):
            raise pytest.UsageError(f"{item.nodeid} is marked fast but starts Spark")


@pytest.fixture(scope="session")
def spark():
    from fruits_assets.spark_jobs.session import build_session

    session = build_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def real_sample() -> Path:
    if not (SHARED_SAMPLE / "Training").is_dir():
        pytest.fail(f"The real Fruits-360 sample is expected at {SHARED_SAMPLE} (see README.md).")
    return SHARED_SAMPLE


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """A lake model cache holding the seeded-random LiteRT and Keras networks, converted once."""
    folder = tmp_path_factory.mktemp("model-lake") / MODEL_CACHE
    folder.mkdir(parents=True)
    for backend in ("litert", "keras"):
        spec = ModelSpec(**RANDOM_MODEL, backend=backend).validate()
        payload, weights = bundle(spec)
        (folder / f"{cache_key(spec, weights)}.bin").write_bytes(payload)
    return folder


def seed_lake(root: Path, model_cache: Path) -> Path:
    """``root`` as a new lake whose model cache is already filled."""
    shutil.copytree(model_cache, root / MODEL_CACHE)
    return root


@pytest.fixture
def lake(tmp_path, model_cache) -> Path:
    return seed_lake(tmp_path / "lake", model_cache)


def table(lake: Path, name: str) -> str:
    """The Spark location of one of ``lake``'s Delta tables."""
    return f"file://{lake}/tables/{name}"


def network(lake: Path, backend: str = "litert") -> tuple[str, ModelSpec]:
    """(Spark location, resolved spec) of the seeded-random network in ``lake``'s cache."""
    spec = ModelSpec(**RANDOM_MODEL, backend=backend).validate()
    return f"file://{lake}/{MODEL_CACHE}/{cache_key(spec, spec.weights)}.bin", spec


def raw_rows(lake: Path, classes: list[str]) -> dict[str, int]:
    """{class: its rows in raw_images}, read with delta-rs as the Dagster side does."""
    from deltalake import DeltaTable

    labels = DeltaTable(str(lake / "tables" / "raw_images")).to_pyarrow_table(columns=["label"]).column("label").to_pylist()
    return {c: labels.count(c) for c in classes}


def modules_a_worker_imports(function, prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with ``prefixes`` that a fresh interpreter has imported once it
    has unpickled ``function`` as Spark ships it to a Python worker."""
    from pyspark.serializers import CloudPickleSerializer

    code = ("import pickle, sys; pickle.loads(sys.stdin.buffer.read()); "
            f"print(' '.join(m for m in sys.modules if m.startswith({prefixes!r})))")
    done = subprocess.run([sys.executable, "-c", code], input=CloudPickleSerializer().dumps(function), capture_output=True,
                          check=True)
    return done.stdout.decode().split()


def run_images(spark, source: Path, lake: Path, classes: list[str], **featurize) -> tuple:
    """Ingest and featurize ``classes`` with the Spark jobs; return both results."""
    from fruits_assets.spark_jobs import jobs
    from fruits_assets.spark_jobs.contracts import FeaturizeParams, IngestParams

    ingested = jobs.run(spark, IngestParams(source_root=f"file://{source}", raw_images=table(lake, "raw_images"),
                                            rejected_images=table(lake, "rejected_images"), classes=classes))
    uri, spec = network(lake)
    featurized = jobs.run(spark, FeaturizeParams(
        raw_images=table(lake, "raw_images"), image_features=table(lake, "image_features"), network=uri,
        classes=classes, raw_rows=raw_rows(lake, classes), model=spec, **featurize,
    ))
    return ingested, featurized


def project_env(*drop_prefixes: str, **settings: str) -> dict:
    """This process's environment without its FRUITS_/DAGSTER_ settings (and any other
    ``drop_prefixes``), on local[2] Spark with seeded random weights, plus ``settings``:
    for subprocesses and for the definitions of ``project``."""
    dropped = ("FRUITS_", "DAGSTER_", *drop_prefixes)
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    return {**env, "FRUITS_SPARK_MASTER": "local[2]", "FRUITS_WEIGHTS": "random", **settings}


@pytest.fixture
def project(monkeypatch, tmp_path):
    """``make(lake, source)``: the project's own definitions (``fruits_assets.definitions``)
    with their resources set by the environment, as ``make run`` and the UI set them."""
    from fruits_assets.definitions import defs

    def make(lake: Path, source: Path | None = None, **settings: str):
        env = project_env(FRUITS_HOME=str(tmp_path), FRUITS_LAKE=str(lake), **settings,
                          **({"FRUITS_SOURCE": str(source)} if source else {}))
        for name in [k for k in os.environ if k.startswith("FRUITS_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return defs()

    return make


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory):
    """``python -m fruits_assets.cli run`` on the embedded sample, lake moved by FRUITS_LAKE:
    (home, lake, its output: stdout then stderr, environment of the run)."""
    home = tmp_path_factory.mktemp("home")
    lake = tmp_path_factory.mktemp("elsewhere") / "lake"
    env = project_env(FRUITS_HOME=str(home), FRUITS_LAKE=str(lake), DAGSTER_HOME=str(home / "dh"))
    (home / "dh").mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dh" / "dagster.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "fruits_assets.cli", "run"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return home, lake, result.stdout + result.stderr, env


@pytest.fixture(scope="session")
def s3_server():
    """A moto S3 (and STS) server on loopback."""
    from moto.server import ThreadedMotoServer

    port = free_port()
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
