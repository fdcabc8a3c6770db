"""The JVM libraries local Spark sessions need, by Maven coordinates: Delta Lake always,
Hadoop's S3A connector when a location is on S3.

Spark resolves the coordinates itself (``spark.jars.packages``, Ivy) into a folder per
set under ``cache_dir()``; ``make install`` does it once (``python -m
fruits_assets.spark_jobs.packages``). Sessions then load the resolved jars from there
(``spark.jars``), which needs no network and skips Ivy's resolution at every start (about
1.3 s). A set not resolved yet is resolved by the first session that needs it.

EMR clusters bring their own Delta Lake and S3 connector: their steps ship no jars.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyspark

DELTA_VERSION = "3.3.2"  # the Delta Lake of EMR 7.12 (Spark 3.5)
# hadoop-aws must match the Hadoop client inside pip's pyspark exactly (3.3.4 for Spark 3.5);
# Ivy brings the AWS SDK bundle it was built against.
PACKAGES = {
    "delta": [f"io.delta:delta-spark_2.12:{DELTA_VERSION}"],
    "s3a": ["org.apache.hadoop:hadoop-aws:3.3.4"],
}
DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


class PackagesError(RuntimeError):
    """The JVM libraries could not be resolved; the message says what was tried."""


def cache_dir() -> Path:
    """``$FRUITS_CACHE/jvm``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, then ``fruits_assets/jvm``."""
    if os.environ.get("FRUITS_CACHE"):
        return Path(os.environ["FRUITS_CACHE"]) / "jvm"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fruits_assets" / "jvm"


def _folder(name: str) -> Path:
    """Where the set ``name`` resolves to (per Spark version: the Scala build must match)."""
    return cache_dir() / f"spark-{pyspark.__version__}" / name


def resolved_jars(name: str) -> list[str]:
    """The jars Ivy retrieved for the set ``name``, or [] when it has not been resolved."""
    jars = _folder(name) / "jars"
    return sorted(str(jar) for jar in jars.glob("*.jar")) if jars.is_dir() else []


def jars_conf(with_s3a: bool = False) -> dict[str, str]:
    """Spark settings that put Delta Lake (and S3A) on a local session's classpath: the
    resolved jars (a set not resolved yet is resolved first)."""
    names = ["delta", "s3a"] if with_s3a else ["delta"]
    return {"spark.jars": ",".join(jar for name in names for jar in resolve(name))}


def resolve(name: str) -> list[str]:
    """The jars of the set ``name``, resolved first if needed: Spark's own resolver runs in
    a child process (a JVM that starts with the coordinates and stops) into a fresh folder,
    moved into place whole, so a session never sees half a resolution."""
    if jars := resolved_jars(name):
        return jars
    target = _folder(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{name}.{os.getpid()}.partial")
    code = (
        "from pyspark.sql import SparkSession; "
        "SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false')"
        f".config('spark.jars.packages', {','.join(PACKAGES[name])!r}).config('spark.jars.ivy', {str(partial)!r})"
        ".getOrCreate().stop()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0 or not list(partial.glob("jars/*.jar")):
        shutil.rmtree(partial, ignore_errors=True)
        raise PackagesError(
            f"Spark could not resolve {', '.join(PACKAGES[name])} from Maven Central:\n{done.stderr[-3000:]}"
        )
    try:
        partial.rename(target)
    except OSError:  # another process resolved it meanwhile
        shutil.rmtree(partial, ignore_errors=True)
    return resolved_jars(name)


def main() -> int:
    for name in PACKAGES:
        jars = resolve(name)
        print(f"{name}: {len(jars)} jars in {_folder(name) / 'jars'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
