"""The EMR runtime: each Spark job runs as an EMR step, which writes its result to S3.

By default a Dagster run gets its own transient cluster: the run's first Spark job
starts it (``run_job_flow``, tagged with the run id), later jobs of the same run
add steps to it, and EMR terminates it once it has been idle for
``idle_timeout_seconds``. With ``cluster_id`` set, steps go to that existing cluster.

Every step is ``spark-submit --deploy-mode cluster <entry.py> JOB PARAMS RESULT``: the same
job modules as local mode (``python -m fruits_assets.spark_jobs``). Its result (the typed
dataclass of ``contracts``, as JSON) comes back through an S3 object under the staging
prefix, read once the step completes; a failed step's stderr is read from the cluster's logs.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import shlex
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import boto3
from botocore.exceptions import WaiterError
from dagster import DagsterExecutionInterruptedError
from dagster_aws.s3 import S3Resource

from ..spark_jobs.contracts import Contract, JobResult, Runtime
from .emr_release import DEFAULT_RELEASE, EmrRelease, step_requirements
from .object_store import s3_client, split_s3_uri
from .regions import require_eu, require_eu_bucket
from .spark import SparkRuntime

RUN_TAG = "fruits_assets/run_id"
ACTIVE_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]

ENTRY = """\
# Written by fruits_assets.resources.emr: the EMR step entry point.
import sys

from fruits_assets.spark_jobs.__main__ import main

main(sys.argv[1:])
"""

BOOTSTRAP = """\
#!/bin/bash
# Written by fruits_assets.resources.emr: runs on every node before Spark starts.
# Installs only what the EMR image lacks: {python} if absent, the Spark step's packages,
# and the fruits_assets wheel without its dependencies (EMR ships Spark and pyspark; the
# workers run the converted network with LiteRT, so no TensorFlow). Running it twice
# changes nothing. What it installed goes to the cluster's bootstrap logs.
set -euo pipefail
WHEEL="$1"
PYTHON={python}
log() {{ echo "[fruits_assets bootstrap] $*"; }}
if [ ! -x "$PYTHON" ]; then
    log "installing $PYTHON"
    sudo dnf install -y -q python3.11 python3.11-pip
fi
"$PYTHON" -m pip --version >/dev/null 2>&1 || sudo dnf install -y -q python3.11-pip
log "$("$PYTHON" --version) at $PYTHON"
aws s3 cp --only-show-errors "$WHEEL" /tmp/
sudo "$PYTHON" -m pip install --quiet --no-deps "/tmp/$(basename "$WHEEL")"
sudo "$PYTHON" -m pip install --quiet {requirements}
log "installed packages:"
"$PYTHON" -m pip list --format=freeze
"""


def bootstrap_script(python: str, requirements: list[str]) -> str:
    """The bootstrap action providing ``python`` with ``requirements`` (see ``step_requirements``)."""
    return BOOTSTRAP.format(python=shlex.quote(python), requirements=" ".join(map(shlex.quote, requirements)))


# On-demand list prices in USD per hour: (EC2, EMR uplift), Linux, checked in 2025 on
# aws.amazon.com/ec2/pricing and aws.amazon.com/emr/pricing. An estimate, not a quote.
HOURLY_USD = {
    ("eu-west-1", "m5.xlarge"): (0.214, 0.048),
    ("eu-west-1", "m5.2xlarge"): (0.428, 0.096),
    ("eu-west-1", "m5.4xlarge"): (0.856, 0.192),
    ("eu-west-3", "m5.xlarge"): (0.224, 0.048),
    ("eu-west-3", "m5.2xlarge"): (0.448, 0.096),
    ("eu-west-3", "m5.4xlarge"): (0.896, 0.192),
}
VCPUS = {"m5.xlarge": 4, "m5.2xlarge": 8, "m5.4xlarge": 16}


class EmrStepError(RuntimeError):
    """An EMR step failed or reported no metrics."""


STDERR_LINES = 30
STEP_ARGUMENT_CHARACTERS = 10_000  # EMR refuses a step argument of more than 10,280 characters


def step_stderr_tail(s3, uri: str, wait_seconds: float, poll_seconds: float) -> str | None:
    """The last STDERR_LINES lines of a step's ``stderr.gz`` at ``uri``, once it exists
    (polled for up to ``wait_seconds``), else None."""
    bucket, key = split_s3_uri(uri)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            lines = gzip.decompress(body).decode(errors="replace").rstrip().splitlines()
            return "\n".join(lines[-STDERR_LINES:])
        except s3.exceptions.NoSuchKey:
            if time.monotonic() >= deadline:
                return None
            time.sleep(max(0.1, min(poll_seconds, deadline - time.monotonic())))


class EmrSpark(SparkRuntime):
    """Spark on AWS EMR (release 7.x = Spark 3.5; see ``emr_release``): a step per job."""

    region: str = "eu-west-3"
    staging_uri: str  # s3:// prefix for the entry script, bootstrap, parameters, results and logs
    wheel: str  # the project's wheel: an s3:// object, or a local file uploaded to staging
    release_label: str = DEFAULT_RELEASE
    primary_instance_type: str = "m5.xlarge"
    core_instance_type: str = "m5.2xlarge"
    core_instance_count: int = 2
    cluster_id: Optional[str] = None  # run steps on this existing cluster instead
    idle_timeout_seconds: int = 600
    spark_conf: dict[str, str] = {}
    service_role: str = "EMR_DefaultRole"
    instance_profile: str = "EMR_EC2_DefaultRole"
    subnet_id: Optional[str] = None
    allow_non_eu_region: bool = False
    s3: Optional[S3Resource] = None  # how boto3 reaches S3 (default: the standard AWS chain)
    poll_seconds: float = 15.0
    log_wait_seconds: float = 300.0  # how long a failed step's stderr is waited for in the staging prefix

    @property
    def release(self) -> EmrRelease:
        return EmrRelease(self.release_label).check()

    def bootstrap(self) -> str:
        return bootstrap_script(self.release.python, step_requirements())

    def emr_client(self):
        return boto3.client("emr", region_name=self.region)

    def s3_client(self):
        return s3_client(self.s3)

    def _uri(self, *parts: str) -> str:
        return "/".join([self.staging_uri.rstrip("/"), *parts])

    def check_regions(self, s3) -> None:
        """The GDPR guard for the cluster and the staging bucket, before anything starts."""
        require_eu(self.region, "The EMR region", self.allow_non_eu_region)
        require_eu_bucket(s3, split_s3_uri(self.staging_uri)[0], self.allow_non_eu_region)

    def code_files(self) -> dict[str, tuple[str, bytes]]:
        """{role: (staging URI, bytes)} of the entry script, bootstrap and (if local) the wheel;
        URIs carry a content hash, so a changed file never overwrites a running one."""
        files = {"entry": ("fruits_entry.py", ENTRY.encode()), "bootstrap": ("bootstrap.sh", self.bootstrap().encode())}
        if not self.wheel.startswith("s3://"):
            wheel = Path(self.wheel)
            if not wheel.is_file():
                raise FileNotFoundError(f"The wheel {wheel} does not exist: build it with `make wheel`.")
            files["wheel"] = (wheel.name, wheel.read_bytes())
        return {
            role: (self._uri("code", hashlib.sha256(body).hexdigest()[:12], name), body)
            for role, (name, body) in files.items()
        }

    def staged_uris(self, files: dict[str, tuple[str, bytes]] | None = None) -> dict[str, str]:
        """URIs by role (entry, bootstrap, wheel) of ``files`` (default: ``code_files()``)."""
        files = self.code_files() if files is None else files
        return {"wheel": self.wheel, **{role: uri for role, (uri, _) in files.items()}}

    def stage_code(self, s3) -> dict[str, str]:
        """Upload the code files; return their URIs by role."""
        files = self.code_files()
        for uri, body in files.values():
            bucket, key = split_s3_uri(uri)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        return self.staged_uris(files)

    def job_flow_request(self, run_id: str, staged: dict[str, str]) -> dict[str, Any]:
        """The ``run_job_flow`` request of a run's transient cluster."""
        groups = [("primary", "MASTER", self.primary_instance_type, 1)]
        if self.core_instance_count:
            groups.append(("core", "CORE", self.core_instance_type, self.core_instance_count))
        instances: dict[str, Any] = {
            "InstanceGroups": [
                {"Name": n, "InstanceRole": r, "InstanceType": t, "InstanceCount": c, "Market": "ON_DEMAND"}
                for n, r, t, c in groups
            ],
            "KeepJobFlowAliveWhenNoSteps": True,  # later jobs of the run add steps
        }
        if self.subnet_id:
            instances["Ec2SubnetId"] = self.subnet_id
        return {
            "Name": f"fruits_assets run {run_id[:8]}",
            "ReleaseLabel": self.release_label,
            "LogUri": self._uri("logs", "emr") + "/",
            "Applications": [{"Name": "Spark"}],
            "Instances": instances,
            "BootstrapActions": [
                {
                    "Name": "install fruits_assets",
                    "ScriptBootstrapAction": {"Path": staged["bootstrap"], "Args": [staged["wheel"]]},
                }
            ],
            # Spark's own writes ask for SSE-S3 too, through this release's S3 connector.
            "Configurations": self.release.configurations(),
            "AutoTerminationPolicy": {"IdleTimeout": self.idle_timeout_seconds},
            "ServiceRole": self.service_role,
            "JobFlowRole": self.instance_profile,
            "VisibleToAllUsers": True,
            "Tags": [{"Key": RUN_TAG, "Value": run_id}, {"Key": "project", "Value": "fruits_assets"}],
        }

    def params_argument(self, params: Contract, s3=None) -> str:
        """The step's parameters argument: their JSON, or, when longer than EMR takes in a
        step argument (hundreds of classes), ``@`` and the URI of an object holding it
        (written with ``s3``, when given)."""
        text = params.to_json()
        if len(text) <= STEP_ARGUMENT_CHARACTERS:
            return text
        uri = self._uri("params", f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json")
        if s3 is not None:
            bucket, key = split_s3_uri(uri)
            s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
        return f"@{uri}"

    def step_request(self, params: Contract, entry_uri: str, s3=None, result_uri: str = "<result>") -> dict[str, Any]:
        """The ``add_job_flow_steps`` step: spark-submit of the entry, which writes the job's
        result to ``result_uri``."""
        conf = {"spark.pyspark.python": self.release.python, "spark.pyspark.driver.python": self.release.python,
                **self.spark_conf}
        args = ["spark-submit", "--deploy-mode", "cluster"]
        for key, value in conf.items():
            args += ["--conf", f"{key}={value}"]
        args += [entry_uri, params.job, self.params_argument(params, s3), result_uri]
        return {
            "Name": f"fruits_assets {params.job}",
            "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args},
        }

    def cluster_for_run(self, emr, run_id: str, staged: dict[str, str]) -> str:
        """The configured cluster, the run's live transient cluster, or a new one."""
        if self.cluster_id:
            return self.cluster_id
        for page in emr.get_paginator("list_clusters").paginate(ClusterStates=ACTIVE_STATES):
            for summary in page["Clusters"]:
                tags = emr.describe_cluster(ClusterId=summary["Id"])["Cluster"].get("Tags", [])
                if {"Key": RUN_TAG, "Value": run_id} in tags:
                    return summary["Id"]
        return emr.run_job_flow(**self.job_flow_request(run_id, staged))["JobFlowId"]

    def submit(self, params: Contract, context: Any = None) -> JobResult:
        """Run the job of ``params`` as a step; return the result it reported, plus where it ran."""
        name = params.job
        s3, emr = self.s3_client(), self.emr_client()
        self.check_regions(s3)
        context = getattr(context, "op_execution_context", context)  # asset and check contexts
        staged = self.stage_code(s3)
        cluster = self.cluster_for_run(emr, context.run_id, staged)
        result_uri = self._uri("results", context.run_id, f"{uuid.uuid4().hex}.json")
        step = self.step_request(params, staged["entry"], s3, result_uri)
        started = time.monotonic()  # from submission: the step's whole time on the cluster
        step_id = emr.add_job_flow_steps(JobFlowId=cluster, Steps=[step])["StepIds"][0]
        context.log.info(f"EMR step {step_id} ({name}) submitted to cluster {cluster}")
        try:
            emr.get_waiter("step_complete").wait(
                ClusterId=cluster, StepId=step_id, WaiterConfig={"Delay": max(1, int(self.poll_seconds))}
            )
        except DagsterExecutionInterruptedError:
            emr.cancel_steps(ClusterId=cluster, StepIds=[step_id])
            raise
        except WaiterError as exc:
            raise EmrStepError(self.why_it_failed(emr, s3, cluster, step_id, name)) from exc
        bucket, key = split_s3_uri(result_uri)
        try:
            reported = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey as exc:
            raise EmrStepError(f"EMR step {step_id} ({name}) finished without writing its result to {result_uri}.") from exc
        result = params.result_type.from_json(reported)
        return dataclasses.replace(result, runtime=self.where(cluster, step_id, time.monotonic() - started))

    def why_it_failed(self, emr, s3, cluster: str, step_id: str, name: str) -> str:
        """What EMR says of a failed step, and the tail of its stderr from the cluster's logs
        in the staging prefix (EMR copies them there within minutes: waited for up to
        ``log_wait_seconds``), so a user sees why without opening the AWS console."""
        logs = self._uri("logs", "emr", cluster, "steps", step_id)
        status = emr.describe_step(ClusterId=cluster, StepId=step_id)["Step"]["Status"]
        details = status.get("FailureDetails") or {}
        reason = " ".join(v for v in (details.get("Reason"), details.get("Message")) if v) or status.get("State", "?")
        tail = step_stderr_tail(s3, f"{logs}/stderr.gz", self.log_wait_seconds, self.poll_seconds)
        shown = f"\nLast lines of its stderr:\n{tail}" if tail else f"\n(its stderr was not in {logs}/ yet)"
        return f"EMR step {step_id} ({name}) on cluster {cluster} failed: {reason}{shown}\nLogs: {logs}/"

    def where(self, cluster: str, step_id: str, seconds: float) -> Runtime:
        """Where a step ran, its cluster's cores and its estimated cost (instance-hours x list prices)."""
        console = f"https://{self.region}.console.aws.amazon.com/emr/home?region={self.region}#/clusterDetails/{cluster}"
        hourly = self.hourly_cost()
        return Runtime(
            emr_cluster_id=cluster,
            emr_step_id=step_id,
            emr_console_url=console,
            emr_step_seconds=round(seconds, 1),
            cluster_cores=self.core_instance_count * VCPUS.get(self.core_instance_type, 0) or None,
            estimated_cost_usd=None if hourly is None else round(hourly * seconds / 3600, 6),
        )

    def hourly_prices(self) -> Optional[list[tuple[str, int, float, float]]]:
        """[(instance type, count, EC2 USD/h, EMR USD/h)] from the list-price table, None if unknown."""
        groups = [(self.primary_instance_type, 1), (self.core_instance_type, self.core_instance_count)]
        prices = [HOURLY_USD.get((self.region, kind)) for kind, _ in groups]
        if None in prices:
            return None
        return [(kind, count, ec2, emr) for (kind, count), (ec2, emr) in zip(groups, prices)]

    def hourly_cost(self) -> Optional[float]:
        """Estimated on-demand USD per hour of the cluster (EC2 + EMR), None if unknown."""
        prices = self.hourly_prices()
        return None if prices is None else round(sum(n * (ec2 + emr) for _, n, ec2, emr in prices), 3)
