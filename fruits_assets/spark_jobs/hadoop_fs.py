"""A small Python face on Hadoop's FileSystem API, so jobs work on file://, s3:// and s3a://.

``file:`` URIs are served by the os module instead: without Hadoop's native
library, the JVM's local file system forks a ``chmod`` for every file and folder
it creates, and each call also costs a py4j round trip.
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import NamedTuple

from pyspark.sql import SparkSession

COPY_BUFFER = 1 << 20


def _local_path(uri: str) -> str:
    return uri.removeprefix("file:").removeprefix("//")


def _checksum(path: str) -> str:
    """Where Hadoop's local file system keeps the checksum of the file ``path``."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.crc")


class ListedFile(NamedTuple):
    uri: str
    size: int
    modified_ms: int


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
    """File operations through the JVM, on whatever scheme the URI names
    (``file:`` through the os module, unless ``jvm_for_local``)."""

    def __init__(self, spark: SparkSession, jvm_for_local: bool = False):
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._jvm_for_local = jvm_for_local

    def _is_local(self, uri: str) -> bool:
        return uri.startswith("file:") and not self._jvm_for_local

    def _path(self, uri: str):
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path, path.getFileSystem(self._conf)

    def exists(self, uri: str) -> bool:
        if self._is_local(uri):
            return os.path.exists(_local_path(uri))
        path, fs = self._path(uri)
        return bool(fs.exists(path))

    def list_dir(self, uri: str) -> list[tuple[str, bool]]:
        """(name, is_dir) of the direct children of ``uri``; empty if it does not exist."""
        if self._is_local(uri):
            folder = _local_path(uri)
            if not os.path.isdir(folder):
                return []
            with os.scandir(folder) as entries:
                return [(e.name, e.is_dir()) for e in entries]
        path, fs = self._path(uri)
        if not fs.exists(path):
            return []
        return [(s.getPath().getName(), bool(s.isDirectory())) for s in fs.listStatus(path)]

    def list_files(self, uri: str) -> list[ListedFile]:
        """Every file below ``uri`` (full URI, size, modification time), recursively,
        hidden files included."""
        if self._is_local(uri):
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

    def copy(self, src: str, dst: str) -> None:
        """Copy a file or a folder."""
        if self._is_local(src) and self._is_local(dst):
            source, target = _local_path(src), _local_path(dst)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.isdir(source):
                shutil.copytree(source, target)
                return
            shutil.copyfile(source, target)
            if os.path.exists(_checksum(source)):
                shutil.copyfile(_checksum(source), _checksum(target))
            return
        src_path, src_fs = self._path(src)
        dst_path, dst_fs = self._path(dst)
        if not self._jvm.org.apache.hadoop.fs.FileUtil.copy(src_fs, src_path, dst_fs, dst_path, False, self._conf):
            raise OSError(f"Could not copy {src} to {dst}")

    def rename(self, src: str, dst: str) -> None:
        """Move a file or a folder to ``dst``, which must not exist yet."""
        if self._is_local(src) and self._is_local(dst):
            source, target = _local_path(src), _local_path(dst)
            if os.path.exists(target):
                raise OSError(f"Could not move {src} to {dst}: the target exists")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.rename(source, target)
            if os.path.exists(_checksum(source)):
                os.rename(_checksum(source), _checksum(target))
            return
        src_path, fs = self._path(src)
        dst_path, _ = self._path(dst)
        fs.mkdirs(dst_path.getParent())
        if not fs.rename(src_path, dst_path):
            raise OSError(f"Could not move {src} to {dst}")

    def delete(self, uri: str) -> None:
        if self._is_local(uri):
            path = _local_path(uri)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            for file in (path, _checksum(path)):
                if os.path.lexists(file) and not os.path.isdir(file):
                    os.remove(file)
            return
        path, fs = self._path(uri)
        fs.delete(path, True)

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write ``data`` to ``uri``; a local file is replaced atomically."""
        if self._is_local(uri):
            path = _local_path(uri)
            folder, name = os.path.split(path)
            os.makedirs(folder, exist_ok=True)
            partial = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
            with open(partial, "wb") as handle:
                handle.write(data)
            os.replace(partial, path)
            if os.path.exists(_checksum(path)):  # written by Hadoop before: now stale
                os.remove(_checksum(path))
            return
        path, fs = self._path(uri)
        out = fs.create(path, True)
        try:
            out.write(bytearray(data))
        finally:
            out.close()

    def concatenate(self, head: bytes, parts: list[str], uri: str) -> None:
        """Write ``head`` then the bytes of each file of ``parts``, in order, to ``uri``
        (streamed: no part is held in memory)."""
        if self._is_local(uri) and all(self._is_local(part) for part in parts):
            path = _local_path(uri)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as out:
                out.write(head)
                for part in parts:
                    with open(_local_path(part), "rb") as stream:
                        shutil.copyfileobj(stream, out, COPY_BUFFER)
            return
        path, fs = self._path(uri)
        out = fs.create(path, True)
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

    def read_bytes(self, uri: str) -> bytes:
        if self._is_local(uri):
            with open(_local_path(uri), "rb") as handle:
                return handle.read()
        path, fs = self._path(uri)
        stream = fs.open(path)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()
