"""The lake's Delta tables as the jobs see them: schemas, the partition column, reading a
set of fruit classes, and replacing a set of classes in one commit."""

from __future__ import annotations

import json
import threading
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    FloatType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from .hadoop_fs import HadoopFS
from .uris import join

PARTITION = "label"  # every table is partitioned by fruit class
SPLITS = ("Training", "Test")  # the values of the split column: the source's top folders
_FILE = [StructField("file_size", LongType()), StructField("file_modified", TimestampType())]
RAW_SCHEMA = StructType(
    [StructField(n, StringType()) for n in ("image_id", "path", "split", "label")]
    + [StructField("width", IntegerType()), StructField("height", IntegerType()), *_FILE]
    + [StructField("content", BinaryType())]
)
REJECTED_SCHEMA = StructType([StructField(n, StringType()) for n in ("path", "label", "split", "reason")] + _FILE)
FEATURES_SCHEMA = StructType(
    [StructField(n, StringType()) for n in ("image_id", "path", "split", "label", "model")]
    + [StructField("features", ArrayType(FloatType()))]
)
# Feature values never repeat, so Parquet's dictionary for them always overflows and falls
# back to plain encoding: trying it costs the JVM about a quarter of a features write's CPU
# (docs/benchmarks.md). Delta passes no per-write Parquet option to the file writer, so a
# session carries this in its Hadoop configuration.
PARQUET_CONF = {"spark.hadoop.parquet.enable.dictionary#features.list.element": "false"}


def of_classes(classes: list[str]) -> Column:
    return F.col(PARTITION).isin(classes)


def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def classes_predicate(classes: list[str]) -> str:
    """The SQL predicate selecting exactly ``classes`` (for ``replaceWhere``)."""
    return f"{PARTITION} IN ({', '.join(map(_sql_string, classes))})" if classes else "false"


def exists(spark: SparkSession, location: str) -> bool:
    return HadoopFS(spark).exists(join(location, "_delta_log"))


def load_in_background(spark: SparkSession, locations: list[str]) -> threading.Thread:
    """Start loading the current state of the tables at ``locations`` (their log replayed,
    their file list built) in a thread, so that a later read or write of them in this
    session finds it loaded: in a new session that is the slowest part of a first access,
    and it can run while the job does other work. Join the returned thread before the job
    ends. A missing table is skipped; any other error is left to the access that follows."""
    def load() -> None:
        for location in locations:
            if exists(spark, location):
                try:
                    spark.sql(f"DESCRIBE DETAIL {sql_name(location)}").collect()
                except Exception:  # noqa: BLE001 - only a head start: the real access reports it
                    pass

    thread = threading.Thread(target=load, name="delta-state", daemon=True)
    thread.start()
    return thread


def read(spark: SparkSession, location: str, classes: list[str], version: int | None = None) -> DataFrame:
    """The rows of ``classes`` in the table at ``location`` (at ``version``, else the current one)."""
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(location).where(of_classes(classes))


def data_files(spark: SparkSession, location: str, classes: list[str], version: int | None = None) -> dict[str, str] | None:
    """{Parquet data file: its class} of ``classes`` in the table at ``location`` (at
    ``version``), as Delta's own scan lists them, when those files' rows are exactly the
    table's rows: the table needs no more than reader version 1 (no deletion vectors, no
    column mapping). None when it needs more: then only Delta's reader reads it right."""
    if spark.sql(f"DESCRIBE DETAIL {sql_name(location)}").first()["minReaderVersion"] > 1:
        return None
    found = read(spark, location, classes, version).select(PARTITION, F.col("_metadata.file_path").alias("file")).distinct()
    # file_path is a URL-encoded URI; Hadoop paths (and binaryFile's path column) are not
    return {unquote(row["file"]): row[PARTITION] for row in found.collect()}


def replace_classes(df: DataFrame, location: str, classes: list[str], commit_info: dict) -> None:
    """Write ``df`` (rows of ``classes`` only) as ONE commit that replaces exactly those
    classes, leaving the other classes' files untouched; ``commit_info`` goes into the
    commit's ``userMetadata``. Creates the table on first use."""
    (
        df.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", classes_predicate(classes))
        .option("userMetadata", json.dumps(commit_info, sort_keys=True))
        .partitionBy(PARTITION)
        .save(location)
    )


def one_file_per_class(df: DataFrame, classes: int) -> DataFrame:
    """``df`` with each class's rows in one task (ranges of whole classes, at most one task
    per core), so that writing it makes one file per class: a scan of many small files packs
    them into tasks by size, mixing the classes (100 classes in 26 tasks wrote 2,167 files)."""
    tasks = max(1, min(classes, df.sparkSession.sparkContext.defaultParallelism))
    return df.repartitionByRange(tasks, PARTITION)


def sql_name(location: str) -> str:
    """The table at ``location`` as Spark SQL names it."""
    return f"delta.`{location.replace('`', '``')}`"


def version(spark: SparkSession, location: str) -> int:
    """The table's current version."""
    return spark.sql(f"DESCRIBE HISTORY {sql_name(location)} LIMIT 1").first()["version"]


def last_operation(spark: SparkSession, location: str, operation: str) -> dict | None:
    """The latest commit of ``operation`` in the table's history (as a dict), or None."""
    found = spark.sql(f"DESCRIBE HISTORY {sql_name(location)}").where(F.col("operation") == operation).orderBy(
        F.col("version").desc()).first()
    return None if found is None else found.asDict()


def count_ids(df: DataFrame, classes: list[str]) -> dict[str, tuple[int, int]]:
    """{class: (rows, distinct image ids)} of ``df``; a class without rows counts (0, 0)."""
    counted = df.groupBy(PARTITION).agg(
        F.count("*").alias("rows"), F.countDistinct("image_id").alias("ids")
    )
    found = {row[PARTITION]: (row["rows"], row["ids"]) for row in counted.collect()}
    return {c: found.get(c, (0, 0)) for c in classes}
