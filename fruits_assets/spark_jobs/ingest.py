"""Ingest a Fruits-360-style tree ``<source>/<Training|Test>/<class>/<file>`` into the lake.

Every file under a requested class ends in exactly one of two tables: ``raw_images``
(usable images, with their original bytes) or ``rejected_images`` (path, class,
split and the reason). The source is only read.
"""

from __future__ import annotations

import posixpath
import time
from functools import reduce

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, IntegerType, StringType, StructField, StructType

from . import plots
from .images import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, inspect
from .layout import PLOTS
from .uris import join
from .versioned import VersionedLake

SPLITS = ("Training", "Test")
RAW_SCHEMA = StructType(
    [StructField(n, StringType()) for n in ("image_id", "path", "split", "label")]
    + [StructField("width", IntegerType()), StructField("height", IntegerType())]
    + [StructField("content", BinaryType())]
)
REJECTED_SCHEMA = StructType([StructField(n, StringType()) for n in ("path", "label", "split", "reason")])
_CHECK = "width int, height int, reason string"


class SourceError(ValueError):
    """The source tree is missing or does not hold what was asked for."""


def _inspect_udf(max_pixels: int, min_side: int):
    @F.pandas_udf(_CHECK)
    def check(paths: pd.Series, contents: pd.Series) -> pd.DataFrame:
        rows = [inspect(p, c, max_pixels, min_side) for p, c in zip(paths, contents)]
        return pd.DataFrame(rows, columns=["width", "height", "reason"]).astype(
            {"width": "Int32", "height": "Int32"}
        )

    return check


def _skipped_reason(uri: str, size: int, folder: str) -> str | None:
    """Why Spark's file reader would skip this file (hidden or empty), else None."""
    relative = uri[uri.index(folder) + len(folder) :] if folder in uri else posixpath.basename(uri)
    if any(part.startswith((".", "_")) for part in relative.split("/") if part):
        return "hidden_file"
    return "empty_file" if size == 0 else None


def _write_thumbnails(lake: VersionedLake, raw: DataFrame, classes: list[str]) -> dict[str, str]:
    """A strip of the first few images of each class, as ``meta/plots/raw_images/<class>.png``."""
    first = Window.partitionBy("label").orderBy("split", "path")
    picked = raw.withColumn("_n", F.row_number().over(first)).where(F.col("_n") <= plots.THUMBNAILS_PER_CLASS)
    contents: dict[str, list[bytes]] = {}
    for row in picked.orderBy("label", "_n").select("label", "content").collect():
        contents.setdefault(row["label"], []).append(bytes(row["content"]))
    written = {}
    for cls in classes:
        if contents.get(cls):
            written[cls] = join(lake.root, PLOTS, "raw_images", f"{cls}.png")
            lake.fs.write_bytes(written[cls], plots.thumbnail_strip(contents[cls]))
    return written


def ingest(
    spark: SparkSession,
    source_root: str,
    lake_root: str,
    classes: list[str],
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = DEFAULT_MIN_SIDE,
) -> dict:
    """Ingest ``classes``; commit one raw and one rejected version per class; return metrics."""
    lake = VersionedLake(spark, lake_root)
    started = time.perf_counter()
    frames, driver_rejects, files = [], [], {c: 0 for c in classes}
    for cls in classes:
        folders = [(s, join(source_root, s, cls)) for s in SPLITS if lake.fs.exists(join(source_root, s, cls))]
        if not folders:
            raise SourceError(f"Class {cls!r} has no folder under {source_root}/{{{','.join(SPLITS)}}}.")
        for split, folder in folders:
            listed = lake.fs.list_files(folder)
            files[cls] += len(listed)
            skipped = [(uri, _skipped_reason(uri, size, f"/{split}/{cls}/")) for uri, size in listed]
            skipped = [(uri, cls, split, reason) for uri, reason in skipped if reason]
            driver_rejects += skipped
            if len(listed) > len(skipped):
                frames.append(
                    spark.read.format("binaryFile")
                    .option("recursiveFileLookup", "true")
                    .load(folder)
                    .select(F.lit(split).alias("split"), F.lit(cls).alias("label"), "path", "content")
                )

    empty_raw = spark.createDataFrame([], RAW_SCHEMA)
    checked = (
        reduce(DataFrame.unionByName, frames)
        .withColumn("check", _inspect_udf(max_pixels, min_side)("path", "content"))
        .select("*", "check.*")
        .drop("check")
        .withColumn("image_id", F.sha2("content", 256))
        .persist(StorageLevel.MEMORY_AND_DISK)
        if frames
        else empty_raw.withColumn("reason", F.lit(None).cast("string"))
    )
    first = Window.partitionBy("label", "image_id").orderBy("path")
    valid = checked.where(F.col("reason").isNull()).withColumn("_n", F.row_number().over(first))
    raw = valid.where("_n = 1").select(*RAW_SCHEMA.names)
    rejected = (
        checked.where(F.col("reason").isNotNull())
        .select(*REJECTED_SCHEMA.names)
        .unionByName(valid.where("_n > 1").select("path", "label", "split", F.lit("duplicate").alias("reason")))
        .unionByName(spark.createDataFrame(driver_rejects, REJECTED_SCHEMA))
    )
    raw_written = lake.write_by_class(raw, "raw_images", classes, RAW_SCHEMA, {})
    rejected_written = lake.write_by_class(rejected, "rejected_images", classes, REJECTED_SCHEMA, {})
    thumbnails = _write_thumbnails(lake, raw, classes)
    reasons = {c: {} for c in classes}
    for row in rejected.groupBy("label", "reason").count().collect():
        reasons[row["label"]][row["reason"]] = row["count"]
    checked.unpersist()

    seconds = time.perf_counter() - started
    per_class = {
        c: {
            "files": files[c],
            "ingested": raw_written[c]["rows"],
            "rejected": rejected_written[c]["rows"],
            "rejected_by_reason": reasons[c],
            "uri": raw_written[c]["uri"],
            "thumbnails": thumbnails.get(c),
        }
        for c in classes
    }
    total = sum(files.values())
    return {
        "files": total,
        "ingested": sum(m["ingested"] for m in per_class.values()),
        "rejected": sum(m["rejected"] for m in per_class.values()),
        "seconds": round(seconds, 3),
        "files_per_second": round(total / seconds, 2) if seconds else None,
        "classes": per_class,
    }
