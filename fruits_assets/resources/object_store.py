"""Small files in the lake (the converted network, the classifier), on a local folder or S3.

Local writes are atomic (temporary file, then rename); S3 puts are atomic by
nature and always ask for server-side encryption.
"""

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from dagster_aws.s3 import S3Resource

from ..spark_jobs.s3 import with_sse
from .regions import require_eu_bucket


class LocalStore:
    def __init__(self, root: str):
        self.root = Path(root.removeprefix("file://")).resolve()

    def uri(self, key: str) -> str:
        return str(self.root / key)

    def write_bytes(self, key: str, data: bytes) -> str:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
        return str(target)

    def read_bytes(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def open(self, key: str) -> BinaryIO:
        """The object as a stream (a big CSV is read without a copy of its bytes)."""
        return (self.root / key).open("rb")

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def list_dirs(self, key: str) -> list[str]:
        folder = self.root / key
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def list_files(self, key: str) -> list[str]:
        """Keys of the files below ``key``, recursively."""
        folder = self.root / key
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())

    def newest(self, key: str) -> float:
        """When the newest file below ``key`` was written (Unix time; 0 when there is none)."""
        return max((p.stat().st_mtime for p in (self.root / key).rglob("*") if p.is_file()), default=0.0)

    def delete_tree(self, key: str) -> None:
        shutil.rmtree(self.root / key, ignore_errors=True)

    def check_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.write_bytes(".write-probe", b"")
            os.remove(probe)
        except OSError as exc:
            raise PermissionError(
                f"The lake root {self.root} is not writable ({exc.strerror}). "
                "Point FRUITS_LAKE at a folder you can write to."
            ) from exc


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix")."""
    scheme, _, rest = uri.partition("://")
    if scheme not in ("s3", "s3a") or not rest:
        raise ValueError(f"Expected an s3://bucket/prefix URI, got {uri!r}.")
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix.strip("/")


def s3_client(s3: S3Resource | None = None):
    """The boto3 client ``s3`` configures (default: the standard AWS chain), encrypting
    every PutObject."""
    return with_sse((s3 or S3Resource()).get_client())


class S3Store:
    def __init__(self, root: str, client, sse: str = "AES256", allow_non_eu: bool = False):
        self.bucket, self.prefix = split_s3_uri(root)
        self.client, self.sse = client, sse
        self.allow_non_eu = allow_non_eu

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def write_bytes(self, key: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ServerSideEncryption=self.sse)
        return self.uri(key)

    def read_bytes(self, key: str) -> bytes:
        return self.open(key).read()

    def open(self, key: str) -> BinaryIO:
        """The object as a stream (botocore's StreamingBody)."""
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]

    def exists(self, key: str) -> bool:
        found = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(key), MaxKeys=1)
        return found.get("KeyCount", 0) > 0

    def list_dirs(self, key: str) -> list[str]:
        prefix = self._key(key).rstrip("/") + "/"
        names = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        ):
            names += [p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
        return sorted(names)

    def list_files(self, key: str) -> list[str]:
        """Keys (relative to the root) of the objects below ``key``."""
        prefix = self._key(key).rstrip("/") + "/"
        start = len(self.prefix) + 1 if self.prefix else 0
        return sorted(
            o["Key"][start:]
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for o in page.get("Contents", [])
        )

    def newest(self, key: str) -> float:
        """When the newest object below ``key`` was written (Unix time; 0 when there is none)."""
        prefix = self._key(key).rstrip("/") + "/"
        return max(
            (o["LastModified"].timestamp()
             for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
             for o in page.get("Contents", [])),
            default=0.0,
        )

    def delete_tree(self, key: str) -> None:
        prefix = self._key(key).rstrip("/") + "/"
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objects:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})

    def check_writable(self) -> None:
        """The GDPR guard, then a probe write (both before any Spark work)."""
        require_eu_bucket(self.client, self.bucket, self.allow_non_eu)
        self.write_bytes(".write-probe", b"")
