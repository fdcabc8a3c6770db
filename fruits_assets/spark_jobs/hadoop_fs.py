"""A small Python face on Hadoop's FileSystem API, so jobs work on file://, s3:// and s3a://."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession


def _local_path(uri: str) -> str:
    return uri.removeprefix("file:").removeprefix("//")


def _local_files(uri: str) -> list[tuple[str, int]]:
    root = _local_path(uri).rstrip("/")
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            found.append((f"file:{path}", os.path.getsize(path)))
    return sorted(found)


class HadoopFS:
    """File operations through the JVM, on whatever scheme the URI names."""

    def __init__(self, spark: SparkSession):
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, uri: str):
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path, path.getFileSystem(self._conf)

    def exists(self, uri: str) -> bool:
        path, fs = self._path(uri)
        return bool(fs.exists(path))

    def list_dir(self, uri: str) -> list[tuple[str, bool]]:
        """(name, is_dir) of the direct children of ``uri``; empty if it does not exist."""
        path, fs = self._path(uri)
        if not fs.exists(path):
            return []
        return [(s.getPath().getName(), bool(s.isDirectory())) for s in fs.listStatus(path)]

    def list_files(self, uri: str) -> list[tuple[str, int]]:
        """(full URI, size) of every file below ``uri``, recursively, hidden files included."""
        if uri.startswith("file:"):  # one py4j round trip per file is too slow for big trees
            return _local_files(uri)
        path, fs = self._path(uri)
        if not fs.exists(path):
            return []
        found = []
        it = fs.listFiles(path, True)
        while it.hasNext():
            status = it.next()
            found.append((status.getPath().toString(), int(status.getLen())))
        return found

    def copy(self, src: str, dst: str) -> None:
        """Copy a file or a folder."""
        src_path, src_fs = self._path(src)
        dst_path, dst_fs = self._path(dst)
        if not self._jvm.org.apache.hadoop.fs.FileUtil.copy(src_fs, src_path, dst_fs, dst_path, False, self._conf):
            raise OSError(f"Could not copy {src} to {dst}")

    def rename(self, src: str, dst: str) -> None:
        src_path, fs = self._path(src)
        dst_path, _ = self._path(dst)
        fs.mkdirs(dst_path.getParent())
        if not fs.rename(src_path, dst_path):
            raise OSError(f"Could not move {src} to {dst}")

    def delete(self, uri: str) -> None:
        path, fs = self._path(uri)
        fs.delete(path, True)

    def write_bytes(self, uri: str, data: bytes) -> None:
        path, fs = self._path(uri)
        out = fs.create(path, True)
        try:
            out.write(bytearray(data))
        finally:
            out.close()

    def read_bytes(self, uri: str) -> bytes:
        if uri.startswith("file:"):  # skip the slow copy through py4j for local files
            with open(_local_path(uri), "rb") as handle:
                return handle.read()
        path, fs = self._path(uri)
        stream = fs.open(path)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()
