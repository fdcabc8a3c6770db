"""Building a SparkSession configured for this project's jobs: Delta Lake, Arrow, and for a
local session its jars, logging and JVM options."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from . import class_sharing, packages
from .tables import PARQUET_CONF

BASE_CONF = {
    "spark.app.name": "fruits_assets",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "128",
    "spark.python.worker.reuse": "true",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.databricks.delta.vacuum.logging.enabled": "true",  # VACUUM records what it deleted in the history
    **packages.DELTA_CONF,
    **PARQUET_CONF,
}
# A local session is short-lived on few cores. There, Delta's default of 50 partitions to
# rebuild a table's state from its log makes 50 tasks of a few rows, listing the source's
# folders makes a task per folder (200 for 100 classes) where one per core lists them as
# fast, and the C2 compiler's background work on Spark's code costs more CPU than its
# faster code saves (docs/benchmarks.md). Java options a caller passes come after these,
# so theirs win.
LOCAL_CONF = {
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(len(os.sched_getaffinity(0))),
}
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
LOCAL_JAVA_OPTIONS = f"-XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"


def build_session(master: str | None = "local[*]", conf: dict[str, str] | None = None, with_s3a: bool = False,
                  log_level: str = "WARN") -> SparkSession:
    """A session whose Python workers run this interpreter (``sys.executable``). A local one
    loads Delta Lake's jars (and S3A's, ``with_s3a``) from ``packages``, and its driver maps
    the ``class_sharing`` archive when ``make install`` made one; ``master=None``
    keeps the master and jars spark-submit chose (an EMR step: the cluster brings Delta)."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    local = bool(master and master.startswith("local"))
    conf = {**BASE_CONF, **(LOCAL_CONF if local else {}), **(conf or {})}
    if local:
        conf.update(packages.jars_conf(with_s3a))
        for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
            conf[key] = f"{LOCAL_JAVA_OPTIONS} {conf.get(key, '')}".strip()
        conf["spark.driver.extraJavaOptions"] = f"{class_sharing.java_options()} {conf['spark.driver.extraJavaOptions']}".strip()
    builder = SparkSession.builder.config("spark.pyspark.python", sys.executable)
    if master:
        builder = builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(log_level)
    return spark
