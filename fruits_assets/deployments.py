"""Resources per deployment, chosen by ``FRUITS_DEPLOYMENT`` (local | aws), in the style of
Dagster's project_fully_featured: same assets, other resources."""

from __future__ import annotations

import os
from collections.abc import Mapping

import boto3

from . import settings
from .resources import EmrSpark, FruitSource, LakeIOManager, LakeResource, LocalSpark, MobileNetResource
from .resources.emr_release import DEFAULT_RELEASE
from .settings import DeploymentError
from .spark_jobs.uris import is_remote


def model_resource() -> MobileNetResource:
    return MobileNetResource(
        weights=os.environ.get("FRUITS_WEIGHTS", "auto"),
        backend=os.environ.get("FRUITS_BACKEND", "litert"),
    )


def local_resources() -> dict:
    """Local folder lake, local (or FRUITS_SOURCE) images, in-process Spark; a lake or
    source on s3:// is read through S3A, whose jars the session then adds."""
    on_s3 = any(is_remote(root) for root in (settings.lake_root(), settings.source_root()))
    scheme = "s3a" if on_s3 else "s3"
    lake = LakeResource(root=settings.lake_root(), spark_s3_scheme=scheme)
    spark = LocalSpark(master=settings.spark_master(), use_s3a=on_s3, s3a_jars=settings.s3a_jars())
    model = model_resource()
    return {
        "lake": lake,
        "source": FruitSource(root=settings.source_root(), spark_s3_scheme=scheme),
        "spark": spark,
        "model": model,
        "lake_io_manager": LakeIOManager(lake=lake, spark=spark, model=model),
    }


def aws_settings(env: Mapping[str, str] = os.environ, require_credentials: bool = True) -> dict:
    """The aws deployment's settings; raise a DeploymentError naming everything missing."""
    missing = []
    for name in ("FRUITS_LAKE", "FRUITS_SOURCE"):
        if not env.get(name, "").startswith("s3://"):
            missing.append(f"{name} (an s3://bucket/prefix URI)")
    if not env.get("FRUITS_EMR_WHEEL") and env.get("FRUITS_SPARK", "emr") == "emr":
        missing.append("FRUITS_EMR_WHEEL (the project's wheel: `make wheel`, a local path or an s3:// object)")
    session = boto3.Session()  # reads the region from the config files, not the credentials
    if require_credentials and session.get_credentials() is None:
        missing.append(
            "AWS credentials (the standard chain: AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "SSO, or an instance role)"
        )
    if missing:
        raise DeploymentError("FRUITS_DEPLOYMENT=aws needs:\n  - " + "\n  - ".join(missing))
    return {
        "lake": env["FRUITS_LAKE"],
        "source": env["FRUITS_SOURCE"],
        "region": env.get("FRUITS_EMR_REGION") or session.region_name or "eu-west-3",
        "staging": env.get("FRUITS_EMR_STAGING") or env["FRUITS_LAKE"],
        "wheel": env.get("FRUITS_EMR_WHEEL", ""),
        "cluster_id": env.get("FRUITS_EMR_CLUSTER_ID") or None,
        "core_instance_type": env.get("FRUITS_EMR_CORE_INSTANCE_TYPE", "m5.2xlarge"),
        "core_instance_count": int(env.get("FRUITS_EMR_CORE_INSTANCE_COUNT", "2")),
        "release": env.get("FRUITS_EMR_RELEASE") or DEFAULT_RELEASE,
        "spark": env.get("FRUITS_SPARK", "emr"),
    }


def emr_runtime(config: dict) -> EmrSpark:
    return EmrSpark(
        region=config["region"],
        staging_uri=config["staging"],
        wheel=config["wheel"],
        cluster_id=config["cluster_id"],
        core_instance_type=config["core_instance_type"],
        core_instance_count=config["core_instance_count"],
        release_label=config["release"],
        allow_non_eu_region=settings.allow_non_eu_region(),
    )


def aws_resources() -> dict:
    """S3 lake and source (EU, SSE), Spark on EMR (or FRUITS_SPARK=local: a laptop via s3a).
    Builds no client and reads no credentials: boto3 resolves them when a step first
    needs AWS (the CLI checks them up front, see ``aws_settings``)."""
    config = aws_settings(require_credentials=False)
    on_emr = config["spark"] == "emr"
    scheme = "s3" if on_emr else "s3a"  # EMRFS on EMR, hadoop-aws on a laptop
    guard = settings.allow_non_eu_region()
    lake = LakeResource(root=config["lake"], spark_s3_scheme=scheme, allow_non_eu_region=guard)
    source = FruitSource(root=config["source"], spark_s3_scheme=scheme, allow_non_eu_region=guard)
    local_spark = LocalSpark(master=settings.spark_master(), use_s3a=True, s3a_jars=settings.s3a_jars())
    model = model_resource()
    return {
        "lake": lake,
        "source": source,
        "spark": emr_runtime(config) if on_emr else local_spark,
        "model": model,
        "lake_io_manager": LakeIOManager(lake=lake, spark=local_spark, model=model),
    }


DEPLOYMENTS = {"local": local_resources, "aws": aws_resources}


def resources_for(deployment: str) -> dict:
    if deployment not in DEPLOYMENTS:
        raise DeploymentError(f"FRUITS_DEPLOYMENT must be one of {sorted(DEPLOYMENTS)}, got {deployment!r}.")
    return DEPLOYMENTS[deployment]()
