"""The class-data sharing archive ``make install`` makes for local Spark drivers: the JVM
of Spark's classpath can map it, and local sessions' drivers do."""

import os
import shutil
import subprocess
from pathlib import Path

import pyspark
import pytest

from fruits_assets.spark_jobs import class_sharing


def _java() -> str:
    """The java Spark's launcher starts: ``$JAVA_HOME/bin/java``, else the PATH's."""
    home = os.environ.get("JAVA_HOME")
    return str(Path(home, "bin", "java")) if home else shutil.which("java")


@pytest.mark.fast
def test_sessions_map_the_archive_only_when_it_was_made(tmp_path, monkeypatch):
    monkeypatch.setenv("FRUITS_CACHE", str(tmp_path))
    assert class_sharing.java_options() == ""
    class_sharing.archive().parent.mkdir(parents=True)
    class_sharing.archive().write_bytes(b"archive")
    assert f"-XX:SharedArchiveFile={class_sharing.archive()} " in class_sharing.java_options()


def test_the_archive_make_install_made_maps_into_a_jvm_of_sparks_classpath():
    """``-Xshare:on`` refuses to start when the archive cannot be mapped (another JDK, or
    a class path other than the one it was made with)."""
    assert class_sharing.archive().is_file(), "make install makes it"
    spark_home = Path(pyspark.__file__).parent
    started = subprocess.run(
        [_java(), "-Xshare:on", f"-XX:SharedArchiveFile={class_sharing.archive()}",
         "-cp", f"{spark_home}/conf/:{spark_home}/jars/*", "-version"],
        capture_output=True, text=True, timeout=60,
    )
    assert started.returncode == 0, started.stderr
    assert "sharing" in started.stderr


def test_a_local_sessions_driver_maps_the_archive(spark):
    """A local session's driver JVM starts with the driver options of its configuration."""
    options = spark.sparkContext.getConf().get("spark.driver.extraJavaOptions").split()
    assert f"-XX:SharedArchiveFile={class_sharing.archive()}" in options
    assert not any("SharedArchiveFile" in o for o in spark.sparkContext.getConf().get("spark.executor.extraJavaOptions").split()), \
        "executors (local-cluster) have another class path"
