"""Resources per deployment, in the style of Dagster's project_fully_featured: same
assets, other resources.

One place picks the deployment: ``FRUITS_DEPLOYMENT`` (local | aws), read when the
definitions load. Every other setting is given to a resource as an ``EnvVar``: Dagster
reads its value when a run starts, and the UI's resource view shows which variable
each value comes from (a setting left unset keeps the resource's default, shown as a
value). Nothing here builds a client or reads credentials.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import boto3
from dagster import EnvVar
from dagster_aws.s3 import S3Resource

from . import settings
from .resources import EmrSpark, FruitSource, LakeIOManager, LakeResource, LocalSpark, MobileNetResource
from .settings import DeploymentError


def from_env(env: Mapping[str, str] = os.environ, **fields: str) -> dict:
    """``{field: EnvVar(variable)}`` for each ``field=variable`` whose variable is set."""
    return {field: EnvVar(name) for field, name in fields.items() if env.get(name)}


def model_resource(lake: LakeResource) -> MobileNetResource:
    """The network's settings; runs convert it into ``lake``'s model cache as they begin."""
    return MobileNetResource(lake=lake, **from_env(weights="FRUITS_WEIGHTS", backend="FRUITS_BACKEND"))


def local_spark() -> LocalSpark:
    return LocalSpark(**from_env(master="FRUITS_SPARK_MASTER", log_level="FRUITS_SPARK_LOG_LEVEL"))


def local_resources() -> dict:
    """Lake in ``<home>/.lake`` (or ``FRUITS_LAKE``), images from the embedded sample (or
    ``FRUITS_SOURCE``), Spark in this process. Either location may be ``s3://``: Spark
    then reads it through S3A."""
    s3, spark = S3Resource(), local_spark()
    lake = LakeResource(**{"root": settings.default_lake(), **from_env(root="FRUITS_LAKE")}, spark_s3_scheme="s3a", s3=s3)
    model = model_resource(lake)
    return {
        "lake": lake,
        "source": FruitSource(**from_env(root="FRUITS_SOURCE"), spark_s3_scheme="s3a", s3=s3),
        "spark": spark,
        "model": model,
        "io_manager": LakeIOManager(lake=lake, spark=spark),
    }


def check_aws_settings(env: Mapping[str, str] = os.environ, require_credentials: bool = True) -> None:
    """Raise a DeploymentError naming every setting the aws deployment lacks (the CLI
    calls it before any work; in the UI, a missing variable fails the run's start)."""
    missing = []
    for name in ("FRUITS_LAKE", "FRUITS_SOURCE"):
        if not env.get(name, "").startswith("s3://"):
            missing.append(f"{name} (an s3://bucket/prefix URI)")
    if not env.get("FRUITS_EMR_WHEEL"):
        missing.append("FRUITS_EMR_WHEEL (the project's wheel: `make wheel`, a local path or an s3:// object)")
    if require_credentials and boto3.Session().get_credentials() is None:
        missing.append(
            "AWS credentials (the standard chain: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "SSO, or an instance role)"
        )
    if missing:
        raise DeploymentError("FRUITS_DEPLOYMENT=aws needs:\n  - " + "\n  - ".join(missing))


def emr_spark(s3: S3Resource, env: Mapping[str, str] = os.environ) -> EmrSpark:
    """Spark on EMR, its settings from ``FRUITS_EMR_*``; the region defaults to the AWS
    profile's (read from the config files, not the credentials), else eu-west-3."""
    region = EnvVar("FRUITS_EMR_REGION") if env.get("FRUITS_EMR_REGION") else boto3.Session().region_name or "eu-west-3"
    count = {"core_instance_count": EnvVar.int("FRUITS_EMR_CORE_INSTANCE_COUNT")} if env.get("FRUITS_EMR_CORE_INSTANCE_COUNT") else {}
    return EmrSpark(
        region=region,
        staging_uri=EnvVar("FRUITS_EMR_STAGING" if env.get("FRUITS_EMR_STAGING") else "FRUITS_LAKE"),
        wheel=EnvVar("FRUITS_EMR_WHEEL"),
        **from_env(env, cluster_id="FRUITS_EMR_CLUSTER_ID", core_instance_type="FRUITS_EMR_CORE_INSTANCE_TYPE",
                   release_label="FRUITS_EMR_RELEASE"),
        **count,
        s3=s3,
        allow_non_eu_region=settings.allow_non_eu_region(),
    )


def aws_resources() -> dict:
    """S3 lake and source (EU, SSE), Spark on EMR (``s3://`` through EMR's connector).
    Loading assets back for Python (the IO manager) uses local Spark through S3A."""
    s3, guard = S3Resource(), settings.allow_non_eu_region()
    lake = LakeResource(root=EnvVar("FRUITS_LAKE"), spark_s3_scheme="s3", s3=s3, allow_non_eu_region=guard)
    spark, model = local_spark(), model_resource(lake)
    return {
        "lake": lake,
        "source": FruitSource(root=EnvVar("FRUITS_SOURCE"), spark_s3_scheme="s3", s3=s3, allow_non_eu_region=guard),
        "spark": emr_spark(s3),
        "model": model,
        "io_manager": LakeIOManager(lake=lake, spark=spark),
    }


DEPLOYMENTS = {"local": local_resources, "aws": aws_resources}


def resources_for(deployment: str) -> dict:
    if deployment not in DEPLOYMENTS:
        raise DeploymentError(f"FRUITS_DEPLOYMENT must be one of {sorted(DEPLOYMENTS)}, got {deployment!r}.")
    return DEPLOYMENTS[deployment]()
