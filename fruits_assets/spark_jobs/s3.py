"""boto3 S3 clients that ask for server-side encryption on every PutObject.

The Dagster side configures its clients with ``dagster_aws.s3.S3Resource`` and adds this
hook (``resources.object_store.s3_client``); the EMR step, which runs without Dagster,
uses ``encrypted_s3_client`` for its parameters and result. No object reaches a bucket unencrypted.
"""

from __future__ import annotations

import boto3

SSE = "AES256"


def _encrypt(params: dict, **_) -> None:
    params.setdefault("ServerSideEncryption", SSE)


def with_sse(client):
    """``client`` (a boto3 S3 client), made to ask for SSE-S3 on every PutObject."""
    client.meta.events.register("before-parameter-build.s3.PutObject", _encrypt)
    return client


def encrypted_s3_client():
    """An S3 client from the standard AWS chain (credentials, region, and endpoint such as
    ``AWS_ENDPOINT_URL_S3``), encrypting every PutObject: for the EMR step, which runs
    without Dagster's resources."""
    return with_sse(boto3.client("s3"))
