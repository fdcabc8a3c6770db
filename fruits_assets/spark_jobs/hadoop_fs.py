"""A small Python face on Hadoop's FileSystem API, so jobs work on file://, s3:// and s3a://."""

from __future__ import annotations

from pyspark.sql import SparkSession


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
        path, fs = self._path(uri)
        if not fs.exists(path):
            return []
        found = []
        it = fs.listFiles(path, True)
        while it.hasNext():
            status = it.next()
            found.append((status.getPath().toString(), int(status.getLen())))
        return found

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
        path, fs = self._path(uri)
        stream = fs.open(path)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()
