"""Building a SparkSession configured for this project's jobs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from .class_archive import default_path as default_class_archive
from .class_archive import java_options as class_archive_options

BASE_CONF = {
    "spark.app.name": "fruits_assets",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "128",
    "spark.python.worker.reuse": "true",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}

# A local session is short-lived on few cores: there, the C2 compiler's background
# work on Spark's code costs more CPU than its faster code saves (docs/benchmarks.md).
# Java options a caller passes come after these, so theirs win. Local sessions also log
# through the project's log4j2.properties (warnings and errors, without start-up notices).
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
LOCAL_JAVA_OPTIONS = f"-XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"


def build_session(master: str | None = "local[*]", conf: dict[str, str] | None = None,
                  class_archive: Path | None = default_class_archive()) -> SparkSession:
    """A session whose Python workers run this interpreter (``sys.executable``); a local
    one maps ``class_archive`` when that file exists (``class_archive.py``).

    ``master=None`` keeps the master spark-submit chose (an EMR step)."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    local = bool(master and master.startswith("local"))
    conf = {**BASE_CONF, **(conf or {})}
    if local:
        driver_options = " ".join(conf.get(f"spark.driver.{kind}JavaOptions", "") for kind in ("default", "extra"))
        archive = class_archive_options(class_archive, driver_options) if class_archive else ""
        for key, options in (("spark.driver.extraJavaOptions", f"{LOCAL_JAVA_OPTIONS} {archive}"),
                             ("spark.executor.extraJavaOptions", LOCAL_JAVA_OPTIONS)):
            conf[key] = f"{options.strip()} {conf.get(key, '')}".strip()
    builder = SparkSession.builder.config("spark.pyspark.python", sys.executable)
    if master:
        builder = builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if local:
        _skip_local_checksums(spark)
    return spark


def _skip_local_checksums(spark: SparkSession) -> None:
    """Read and write file: without Hadoop's .crc side files: computing, writing and
    checking them was 7-9 % of ingest's time. The setting is on the process's one local
    file system, which the driver and ``local[*]`` tasks share (``local-cluster``
    executors, other JVMs, keep theirs); it still hides the .crc files a lake holds from
    before. The production lake is on S3, which checksums every transfer."""
    local_fs = spark.sparkContext._jvm.org.apache.hadoop.fs.FileSystem.getLocal(spark.sparkContext._jsc.hadoopConfiguration())
    local_fs.setWriteChecksum(False)
    local_fs.setVerifyChecksum(False)
