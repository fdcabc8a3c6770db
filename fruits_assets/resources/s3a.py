"""How a local Spark session reaches S3 through Hadoop's S3A connector: the endpoint, the
credentials and server-side encryption (its jars come from ``spark_jobs.packages``)."""

from __future__ import annotations

import os
from typing import Mapping

# SSE-S3 for every object S3A writes. Hadoop 3.3 reads the first key, 3.4 the second
# (and the first as its deprecated alias); both take "AES256" for SSE-S3. Hadoop 3.3
# refuses "SSE-S3" there ("Unknown encryption algorithm").
SSE_ALGORITHM = "AES256"
SSE_CONF = {"fs.s3a.server-side-encryption-algorithm": SSE_ALGORITHM, "fs.s3a.encryption.algorithm": SSE_ALGORITHM}


def endpoint_url(env: Mapping[str, str] = os.environ) -> str | None:
    """The standard AWS endpoint override (``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``)."""
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None


def connection_conf(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """How S3A reaches S3 (without the ``spark.hadoop.`` prefix): credentials from the
    standard AWS chain, and the endpoint with path-style access when one is set."""
    conf = {"fs.s3a.aws.credentials.provider": "com.amazonaws.auth.DefaultAWSCredentialsProviderChain"}
    if endpoint := endpoint_url(env):
        conf["fs.s3a.endpoint"] = endpoint
        conf["fs.s3a.path.style.access"] = "true"
        conf["fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https://")).lower()
        if region := env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"):
            conf["fs.s3a.endpoint.region"] = region
    return conf


def spark_conf(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The Spark settings a local session needs to read and write ``s3a://``, encrypted."""
    return {f"spark.hadoop.{k}": v for k, v in {**SSE_CONF, **connection_conf(env)}.items()}
