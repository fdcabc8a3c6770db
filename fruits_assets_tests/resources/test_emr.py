"""The EMR runtime end to end with a fake EMR client (as dagster-aws tests its Pipes
clients): the request is recorded, and each step runs locally with the project's own
entry point, its Spark session configured as the requested release's cluster would be
(``s3://`` served by S3A, the core-site encryption settings), against an S3 lake on the
loopback server, without the packages the bootstrap does not install. The Pipes
messages travel through the same server."""

import gzip
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from types import SimpleNamespace
from typing import ClassVar

import pytest
from botocore.exceptions import WaiterError
from dagster import DagsterInstance, Definitions
from dagster_aws.s3 import S3Resource

from fruits_assets import sample
from fruits_assets.defs.features.assets import image_features, mobilenet_v2
from fruits_assets.defs.ingest.assets import raw_images
from fruits_assets.partitions import range_tags
from fruits_assets.resources import EmrSpark, FruitSource, LakeIOManager, LakeResource, LocalSpark, MobileNetResource
from fruits_assets.resources.emr import RUN_TAG
from fruits_assets.resources.emr_release import EmrRelease
from fruits_assets.resources.model import MODEL_CACHE
from fruits_assets.resources.regions import RegionError
from fruits_assets.resources.s3a import connection_conf
from fruits_assets.spark_jobs import packages
from fruits_assets.spark_jobs.contracts import Contract, IngestParams
from fruits_assets_tests.conftest import RANDOM_MODEL, make_bucket

pytestmark = pytest.mark.aws

# What the bootstrap does not install, so the step must not import it.
NOT_ON_THE_CLUSTER = ("tensorflow", "keras", "dagster", "dagster_aws", "dagster_webserver")
BLOCKER = f"""
import importlib.abc, sys
class _NotOnTheCluster(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_ON_THE_CLUSTER!r}:
            raise ImportError(f"{{name}} is not installed on the EMR cluster by the bootstrap")
sys.meta_path.insert(0, _NotOnTheCluster())
"""


class FakeEmr:
    """Records requests; runs each step's spark-submit locally (``python entry.py ...``)."""

    def __init__(self, s3, workdir):
        self.s3, self.workdir = s3, workdir
        self.requests: list[tuple[str, dict]] = []
        (workdir / "blocker").mkdir(exist_ok=True)
        (workdir / "blocker" / "sitecustomize.py").write_text(BLOCKER)
        self.clusters: dict[str, dict] = {}
        self.steps: dict[str, subprocess.CompletedProcess] = {}
        self.meta = SimpleNamespace(region_name="eu-west-3")

    def run_job_flow(self, **request):
        self.requests.append(("run_job_flow", request))
        cluster = f"j-FAKE{len(self.clusters) + 1}"
        self.clusters[cluster] = {"Id": cluster, "Tags": request["Tags"], "Status": {"State": "WAITING"}}
        return {"JobFlowId": cluster}

    def get_paginator(self, name):
        assert name == "list_clusters"
        active = [{"Id": c} for c, info in self.clusters.items() if info["Status"]["State"] == "WAITING"]
        return SimpleNamespace(paginate=lambda **_: [{"Clusters": active}])

    def describe_cluster(self, ClusterId):
        return {"Cluster": self.clusters[ClusterId]}

    def add_job_flow_steps(self, JobFlowId, Steps):
        self.requests.append(("add_job_flow_steps", {"JobFlowId": JobFlowId, "Steps": Steps}))
        ids = []
        for step in Steps:
            step_id = f"s-{len(self.steps) + 1}"
            self.steps[step_id] = self._execute(step["HadoopJarStep"]["Args"])
            ids.append(step_id)
        return {"StepIds": ids}

    def _execute(self, args):
        assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
        rest, conf = args[3:], {}
        while rest[0] == "--conf":
            key, _, value = rest[1].partition("=")
            conf[key], rest = value, rest[2:]
        entry_uri, job_args = rest[0], rest[1:]
        bucket, key = entry_uri[len("s3://"):].split("/", 1)
        entry = self.workdir / "entry.py"
        entry.write_bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        env = dict(os.environ)
        env["PYSPARK_SUBMIT_ARGS"] = self._cluster_spark_args()
        env["PYTHONPATH"] = str(self.workdir / "blocker")
        return subprocess.run([sys.executable, str(entry), *job_args], env=env, capture_output=True, text=True)

    def _cluster_spark_args(self) -> str:
        """Local Spark set up as the requested release's cluster: its own Delta Lake (when
        the request enables it) and spark-defaults, its core-site properties as given, and
        ``s3://`` served by S3A from 7.10 (what EMR does), on the loopback S3."""
        flow = next(r for kind, r in self.requests if kind == "run_job_flow")
        configured = {c["Classification"]: c["Properties"] for c in flow["Configurations"]}
        hadoop = {**configured.get("core-site", {}), **connection_conf()}
        if EmrRelease(flow["ReleaseLabel"]).s3_connector == "S3A":
            hadoop["fs.s3.impl"] = "org.apache.hadoop.fs.s3a.S3AFileSystem"
        cluster_jars = [*packages.resolve("s3a")]
        if configured.get("delta-defaults", {}).get("delta.enabled") == "true":
            cluster_jars += packages.resolve("delta")
        args = ["--master", "local[2]", "--jars", ",".join(cluster_jars)]
        for key, value in configured.get("spark-defaults", {}).items():
            args += ["--conf", f"{key}={value}"]
        for key, value in hadoop.items():
            args += ["--conf", f"spark.hadoop.{key}={value}"]
        return shlex.join([*args, "pyspark-shell"])

    def describe_step(self, ClusterId, StepId):
        done = self.steps[StepId]
        status = {"State": "COMPLETED" if done.returncode == 0 else "FAILED"}
        if done.returncode != 0:
            status["FailureDetails"] = {"Reason": "Unknown Error.", "Message": "Step failed with exitCode 1."}
            # what EMR copies to the log URI after a step: its stderr, gzipped
            self.s3.put_object(Bucket="fruits-emr", Key=f"staging/logs/emr/{ClusterId}/steps/{StepId}/stderr.gz",
                               Body=gzip.compress(done.stderr.encode()), ServerSideEncryption="AES256")
        return {"Step": {"Status": status}}

    def get_waiter(self, name):
        assert name == "step_complete"

        def wait(ClusterId, StepId, WaiterConfig=None):
            done = self.steps[StepId]
            if done.returncode != 0:
                raise WaiterError("StepComplete", f"step {StepId} FAILED:\n{done.stderr[-3000:]}", {})

        return SimpleNamespace(wait=wait)

    def cancel_steps(self, **_):
        raise AssertionError("no step should be cancelled")


FAKE: list[FakeEmr] = []  # the current test's fake (Dagster rebuilds resources from config)


class FakeEmrSpark(EmrSpark):
    def emr_client(self):
        return FAKE[-1]


def _runtime(fake, **config) -> FakeEmrSpark:
    FAKE.append(fake)
    config = {"region": "eu-west-3", "poll_seconds": 0.2, "log_wait_seconds": 5, **config}
    return FakeEmrSpark(
        staging_uri="s3://fruits-emr/staging", wheel="s3://fruits-emr/code/fruits_assets-0.1.0-py3-none-any.whl",
        **config,
    )


def test_assets_and_checks_run_as_steps_of_one_transient_cluster_on_an_s3_lake(s3, s3_server, tmp_path, model_cache):
    make_bucket(s3, "fruits-emr", "eu-west-3")
    for bundle in model_cache.iterdir():  # the converted network: the Dagster side prepares it
        s3.put_object(Bucket="fruits-emr", Key=f"lake/{MODEL_CACHE}/{bundle.name}", Body=bundle.read_bytes(),
                      ServerSideEncryption="AES256")
    fake = FakeEmr(s3, tmp_path)
    source = sample.generate(tmp_path / "sample")
    classes = sorted(p.name for p in (source / "Training").iterdir())[:2]
    s3_resource = S3Resource(endpoint_url=s3_server)
    lake_resource = LakeResource(root="s3://fruits-emr/lake", s3=s3_resource)
    spark = _runtime(fake, s3=s3_resource)
    defs = Definitions(
        assets=[raw_images, mobilenet_v2, image_features],
        resources={
            "spark": spark, "lake": lake_resource, "source": FruitSource(root=str(source)),
            "model": MobileNetResource(**RANDOM_MODEL, lake=lake_resource),
            "io_manager": LakeIOManager(lake=lake_resource, spark=LocalSpark()),
        },
    )
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", classes)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, tags=range_tags(classes[0], classes[-1]), raise_on_error=False,
    )
    for step_id, done in fake.steps.items():
        assert done.returncode == 0, f"{step_id}: {done.stderr[-3000:]}"
    assert result.success

    flows = [r for kind, r in fake.requests if kind == "run_job_flow"]
    assert len(flows) == 1, "one transient cluster for the whole run"
    flow = flows[0]
    assert EmrRelease(flow["ReleaseLabel"]).s3_connector == "S3A"
    assert {"Key": RUN_TAG, "Value": result.run_id} in flow["Tags"]
    assert flow["AutoTerminationPolicy"]["IdleTimeout"] > 0
    bootstrap = flow["BootstrapActions"][0]["ScriptBootstrapAction"]
    assert bootstrap["Args"] == [spark.wheel]
    script = s3.get_object(Bucket="fruits-emr", Key=bootstrap["Path"][len("s3://fruits-emr/"):])["Body"].read()
    assert script.decode() == spark.bootstrap()
    assert flow["LogUri"] == "s3://fruits-emr/staging/logs/emr/"

    steps = [r for kind, r in fake.requests if kind == "add_job_flow_steps"]
    assert [s["JobFlowId"] for s in steps] == ["j-FAKE1"] * 2  # 2 Spark assets, one cluster; checks need no step
    jobs = [s["Steps"][0]["HadoopJarStep"]["Args"][-3] for s in steps]
    assert jobs == ["ingest", "featurize"]
    args = steps[0]["Steps"][0]["HadoopJarStep"]["Args"]
    job, params = args[-3], IngestParams.from_json(args[-2])
    assert job == "ingest" and params.classes == classes
    assert params.source_root == f"file://{source}" and params.raw_images == "s3://fruits-emr/lake/tables/raw_images"
    assert args[-1].startswith(f"s3://fruits-emr/staging/results/{result.run_id}/"), "where the step writes its result"
    assert not any("spark.jars" in a or a == "--jars" for a in args), "steps ship no jars: the cluster has Delta"

    keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="fruits-emr", Prefix="lake/tables/")
            for o in p.get("Contents", [])]
    for table in ("raw_images", "image_features"):
        assert any(k.startswith(f"lake/tables/{table}/_delta_log/") for k in keys)
        assert any(k.startswith(f"lake/tables/{table}/label={classes[0]}/") and k.endswith(".parquet") for k in keys)
    assert all("ServerSideEncryption" in s3.head_object(Bucket="fruits-emr", Key=k) for k in keys)

    metadata = result.asset_materializations_for_node("raw_images")[0].metadata
    assert metadata["dagster/row_count"].value == 2 * (sample.TRAINING_PER_CLASS + sample.TEST_PER_CLASS)
    assert metadata["emr_cluster_id"].value == "j-FAKE1"
    assert metadata["emr_console_url"].value.endswith("clusterDetails/j-FAKE1")
    assert metadata["emr_step_id"].value == "s-1"
    features = result.asset_materializations_for_node("image_features")[0].metadata
    assert features["dagster/row_count"].value == 2 * (sample.TRAINING_PER_CLASS + sample.TEST_PER_CLASS)
    assert features["weights"].value == "random"
    cost = "estimated_cost_usd (estimate: instance-hours x on-demand list prices)"
    assert features[cost].value > 0 and features["cluster_cores"].value == 16
    checks = [c for c in result.get_asset_check_evaluations() if c.partition]
    assert len(checks) == 2 * 6 and all(c.passed for c in checks if c.check_name != "features_from_imagenet_weights")


def test_emr_client_is_built_in_the_configured_region():
    runtime = EmrSpark(staging_uri="s3://b/p", wheel="s3://b/w.whl", region="eu-west-1")
    assert runtime.emr_client().meta.region_name == "eu-west-1"


def test_steps_go_to_an_existing_cluster_when_configured(s3, s3_server, tmp_path):
    fake = FakeEmr(s3, tmp_path)
    runtime = _runtime(fake, cluster_id="j-EXISTING", s3=S3Resource(endpoint_url=s3_server))
    assert runtime.cluster_for_run(fake, "run-1", runtime.staged_uris()) == "j-EXISTING"
    assert fake.requests == []


def test_emr_outside_the_eu_is_refused_before_any_request(s3, s3_server, tmp_path):
    make_bucket(s3, "fruits-emr", "eu-west-3")
    fake = FakeEmr(s3, tmp_path)
    context = SimpleNamespace(run_id="r", log=SimpleNamespace(info=print))
    with pytest.raises(RegionError, match="The EMR region is in us-east-1"):
        _runtime(fake, s3=S3Resource(endpoint_url=s3_server), region="us-east-1").submit(
            IngestParams(source_root="s3://fruits/source", raw_images="s3://fruits-emr/lake/tables/raw_images",
                         rejected_images="s3://fruits-emr/lake/tables/rejected_images", classes=["Kiwi"]), context)
    assert fake.requests == []


def test_a_failed_step_says_why_with_the_tail_of_its_stderr_and_where_its_logs_are(s3, s3_server, tmp_path):
    from dagster import asset, materialize

    make_bucket(s3, "fruits-emr", "eu-west-3")
    fake = FakeEmr(s3, tmp_path)

    @dataclass(frozen=True)
    class NoSuchJob(Contract):
        job: ClassVar[str] = "no_such_job"

    @asset
    def broken(context, spark: EmrSpark):
        spark.run_job(NoSuchJob(), context)

    result = materialize([broken], resources={"spark": _runtime(fake, s3=S3Resource(endpoint_url=s3_server))}, raise_on_error=False)
    assert not result.success
    error = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "EMR step s-1 (no_such_job) on cluster j-FAKE1 failed: Unknown Error. Step failed with exitCode 1." in error
    assert "Last lines of its stderr:" in error and "Unknown job 'no_such_job'" in error
    assert "Logs: s3://fruits-emr/staging/logs/emr/j-FAKE1/steps/s-1/" in error
