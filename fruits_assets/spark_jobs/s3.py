"""boto3 S3 clients that ask for server-side encryption on every PutObject.

Used by the Dagster side (lake, source, upload, EMR staging) and by the EMR step
(its Pipes messages), so no object reaches the bucket unencrypted.
"""

from __future__ import annotations

import boto3

SSE = "AES256"


def _encrypt(params: dict, **_) -> None:
    params.setdefault("ServerSideEncryption", SSE)


def encrypted_s3_client(endpoint_url: str | None = None):
    """An S3 client from the standard AWS credential chain; ``endpoint_url`` is for tests
    (``AWS_ENDPOINT_URL_S3`` works too)."""
    client = boto3.client("s3", endpoint_url=endpoint_url)
    client.meta.events.register("before-parameter-build.s3.PutObject", _encrypt)
    return client
