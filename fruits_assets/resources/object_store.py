"""Small objects (manifests, plots, CSVs) in the lake, on a local folder or S3.

Local writes are atomic (temporary file, then rename); S3 puts are atomic by
nature and always ask for server-side encryption.
"""


import os
import tempfile
from pathlib import Path


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

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def list_dirs(self, key: str) -> list[str]:
        folder = self.root / key
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

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


class S3Store:
    def __init__(self, root: str, client, sse: str = "AES256"):
        bucket, _, prefix = root.split("://", 1)[1].partition("/")
        self.bucket, self.prefix, self.client, self.sse = bucket, prefix.strip("/"), client, sse

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def write_bytes(self, key: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ServerSideEncryption=self.sse)
        return self.uri(key)

    def read_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

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

    def check_writable(self) -> None:
        self.write_bytes(".write-probe", b"")
