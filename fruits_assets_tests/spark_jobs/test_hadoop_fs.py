"""HadoopFS: the os-module path for file: URIs behaves like Hadoop's own."""

import pytest

from fruits_assets.spark_jobs.hadoop_fs import HadoopFS


@pytest.fixture(params=["os", "jvm"])
def fs(request, spark):
    return HadoopFS(spark, jvm_for_local=request.param == "jvm")


def test_write_read_list_copy_rename_delete(fs, tmp_path):
    root = f"file://{tmp_path}"
    assert not fs.exists(f"{root}/a") and fs.list_dir(f"{root}/a") == [] and fs.list_files(f"{root}/a") == []

    fs.write_bytes(f"{root}/a/one.bin", b"first")
    fs.write_bytes(f"{root}/a/one.bin", b"second")
    fs.write_bytes(f"{root}/a/sub/two.bin", b"22")
    assert fs.read_bytes(f"{root}/a/one.bin") == b"second"
    assert sorted(fs.list_dir(f"{root}/a")) == [("one.bin", False), ("sub", True)]
    listed = {uri.rsplit("/a/", 1)[1]: size for uri, size, _ in fs.list_files(f"{root}/a") if ".crc" not in uri}
    assert listed == {"one.bin": 6, "sub/two.bin": 2}

    fs.copy(f"{root}/a", f"{root}/b")
    fs.copy(f"{root}/a/one.bin", f"{root}/c/one.bin")
    assert fs.read_bytes(f"{root}/b/sub/two.bin") == b"22" and fs.read_bytes(f"{root}/c/one.bin") == b"second"

    fs.rename(f"{root}/b", f"{root}/new/parent/b")
    assert not fs.exists(f"{root}/b") and fs.read_bytes(f"{root}/new/parent/b/one.bin") == b"second"

    fs.delete(f"{root}/new")
    fs.delete(f"{root}/c/one.bin")
    fs.delete(f"{root}/never-existed")
    assert not fs.exists(f"{root}/new") and not fs.exists(f"{root}/c/one.bin")


def test_concatenate_streams_the_parts_in_order_after_the_head(fs, tmp_path):
    root = f"file://{tmp_path}"
    parts = [f"{root}/parts/{name}" for name in ("b", "a", "c")]
    for uri, data in zip(parts, (b"1,2\n", b"", b"3,4\n" * 300_000)):  # the last spans several buffers
        fs.write_bytes(uri, data)
    fs.concatenate(b"x,y\n", parts, f"{root}/out/joined.csv")
    assert fs.read_bytes(f"{root}/out/joined.csv") == b"x,y\n1,2\n" + b"3,4\n" * 300_000
    fs.concatenate(b"only\n", [], f"{root}/out/joined.csv")
    assert fs.read_bytes(f"{root}/out/joined.csv") == b"only\n", "an existing file is replaced"


def test_local_writes_are_atomic_and_renames_never_nest(spark, tmp_path):
    fs = HadoopFS(spark)
    root = f"file://{tmp_path}"
    fs.write_bytes(f"{root}/d/_COMMITTED", b"{}")
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["_COMMITTED"]  # no partial file left
    fs.write_bytes(f"{root}/e/x", b"x")
    with pytest.raises(OSError, match="target exists"):
        fs.rename(f"{root}/e", f"{root}/d")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["_COMMITTED"]


def test_local_sessions_write_no_checksum_files(spark, tmp_path):
    spark.range(3).write.parquet(f"file://{tmp_path}/t")
    HadoopFS(spark, jvm_for_local=True).write_bytes(f"file://{tmp_path}/b", b"data")
    assert not [p for p in tmp_path.rglob("*.crc")]


class ChecksummedFS:
    """Hadoop's checksummed local file system, as a stock Spark session has it."""

    def __init__(self, spark):
        self._jvm = spark.sparkContext._jvm
        self._fs = self._jvm.org.apache.hadoop.fs.LocalFileSystem()
        self._fs.initialize(self._jvm.java.net.URI("file:///"), spark.sparkContext._jsc.hadoopConfiguration())

    def write_bytes(self, uri: str, data: bytes) -> None:
        out = self._fs.create(self._jvm.org.apache.hadoop.fs.Path(uri))
        out.write(bytearray(data))
        out.close()

    def read_bytes(self, uri: str) -> bytes:
        stream = self._fs.open(self._jvm.org.apache.hadoop.fs.Path(uri))
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))  # checksum verified
        finally:
            stream.close()


def test_hadoop_checksums_follow_local_renames_copies_and_rewrites(spark, tmp_path):
    jvm, local = ChecksummedFS(spark), HadoopFS(spark)
    root = f"file://{tmp_path}"
    jvm.write_bytes(f"{root}/x", b"data")  # a lake written by a stock session: .x.crc beside it
    assert (tmp_path / ".x.crc").exists()
    local.rename(f"{root}/x", f"{root}/y/z")
    local.copy(f"{root}/y/z", f"{root}/w")
    assert jvm.read_bytes(f"{root}/y/z") == jvm.read_bytes(f"{root}/w") == b"data"
    assert (tmp_path / "y" / ".z.crc").exists() and not (tmp_path / ".x.crc").exists()

    local.write_bytes(f"{root}/w", b"rewritten")
    assert jvm.read_bytes(f"{root}/w") == b"rewritten"
    local.delete(f"{root}/y/z")
    assert not any((tmp_path / "y").iterdir())
