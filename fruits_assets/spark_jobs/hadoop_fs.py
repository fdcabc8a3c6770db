"""A small Python face on Hadoop's FileSystem API, so jobs list, read and write single files
on file://, s3:// and s3a:// alike (tables go through Delta Lake).

``file:`` URIs are served by the os module: without Hadoop's native library, the JVM's
local file system forks a ``chmod`` for every file and folder it creates, and each call
also costs a py4j round trip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime, timezone
from typing import NamedTuple

from pyspark.sql import SparkSession

COPY_BUFFER = 1 << 20


def _local_path(uri: str) -> str:
    return uri.removeprefix("file:").removeprefix("//")


class ListedFile(NamedTuple):
    uri: str
    size: int
    modified_ms: int

    @property
    def modified(self) -> datetime:
        """The modification time, as Spark's file readers report it (milliseconds, UTC)."""
        return datetime.fromtimestamp(self.modified_ms / 1000, tz=timezone.utc)


def _local_files(uri: str) -> list[ListedFile]:
    root = _local_path(uri).rstrip("/")
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            stat = os.stat(path)
            found.append(ListedFile(f"file:{path}", stat.st_size, stat.st_mtime_ns // 1_000_000))
    return sorted(found)


class HadoopFS:
    """File operations on whatever scheme the URI names (``file:`` through the os module)."""

    def __init__(self, spark: SparkSession):
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, uri: str):
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path, path.getFileSystem(self._conf)

    def exists(self, uri: str) -> bool:
        if uri.startswith("file:"):
            return os.path.exists(_local_path(uri))
        path, fs = self._path(uri)
        return bool(fs.exists(path))

    def list_files(self, uri: str) -> list[ListedFile]:
        """Every file below ``uri`` (full URI, size, modification time), recursively,
        hidden files included; empty if ``uri`` does not exist."""
        if uri.startswith("file:"):
            return _local_files(uri)
        path, fs = self._path(uri)
        if not fs.exists(path):
            return []
        found = []
        it = fs.listFiles(path, True)
        while it.hasNext():
            status = it.next()
            found.append(ListedFile(status.getPath().toString(), int(status.getLen()), int(status.getModificationTime())))
        return found

    def delete(self, uri: str) -> None:
        if uri.startswith("file:"):
            shutil.rmtree(_local_path(uri), ignore_errors=True)
            return
        path, fs = self._path(uri)
        fs.delete(path, True)

    def read_bytes(self, uri: str) -> bytes:
        if uri.startswith("file:"):
            with open(_local_path(uri), "rb") as handle:
                return handle.read()
        path, fs = self._path(uri)
        stream = fs.open(path)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def concatenate(self, head: bytes, parts: list[str], uri: str) -> None:
        """Write ``head`` then the bytes of each file of ``parts``, in order, to ``uri``
        (streamed: no part is held in memory). A local file appears whole or not at all."""
        if uri.startswith("file:") and all(part.startswith("file:") for part in parts):
            path = _local_path(uri)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            partial = f"{path}.{uuid.uuid4().hex}.partial"
            with open(partial, "wb") as out:
                out.write(head)
                for part in parts:
                    with open(_local_path(part), "rb") as stream:
                        shutil.copyfileobj(stream, out, COPY_BUFFER)
            os.replace(partial, path)
            return
        path, fs = self._path(uri)
        out = fs.create(path, True)  # on S3, the object appears when the stream closes
        try:
            out.write(bytearray(head))
            for part in parts:
                part_path, part_fs = self._path(part)
                stream = part_fs.open(part_path)
                try:
                    self._jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, out, COPY_BUFFER, False)
                finally:
                    stream.close()
        finally:
            out.close()
