"""URI helpers shared by the driver and the jobs."""

from __future__ import annotations

import os
import re

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_remote(uri: str) -> bool:
    """True for object-store URIs (s3://, s3a://, ...), False for local paths."""
    return bool(_SCHEME.match(uri)) and not uri.startswith("file://")


def to_spark_uri(uri: str, s3_scheme: str = "s3") -> str:
    """Turn a local path or an s3 URI into what Spark's Hadoop file systems read."""
    if uri.startswith("file:"):
        return uri
    if is_remote(uri):
        scheme, rest = uri.split("://", 1)
        if scheme in ("s3", "s3a", "s3n"):
            return f"{s3_scheme}://{rest}"
        return uri
    return "file://" + os.path.abspath(uri)


def join(root: str, *parts: str) -> str:
    """Join URI parts with '/', whatever the scheme."""
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts if p)])
