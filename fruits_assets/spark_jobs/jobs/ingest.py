"""Ingest fruit classes of a Fruits-360-style tree ``<source>/<Training|Test>/<class>/<file>``.

Every file under a requested class ends in exactly one of two Delta tables: ``raw_images``
(usable images, with their bytes) or ``rejected_images`` (path, class, split and the
reason). Both rows keep the file's size and modification time, so the tables themselves
say which source files they hold. The source is only read.
"""

from __future__ import annotations

import base64
import hashlib
import math
import posixpath
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from .. import plots, tables
from ..contracts import IngestedClass, IngestParams, IngestResult
from ..hadoop_fs import HadoopFS, ListedFile
from ..images import inspect
from ..tables import SPLITS
from ..uris import join

_CHECK = "width int, height int, reason string, image_id string"
# Files per scan task: fewer, bigger tasks scan faster (50,000 images in 4 or 10 tasks:
# 10.7-12.6 s, in 26: 13.1-14.7 s; docs/benchmarks.md), but a task lists its files in its
# description (about 134 bytes each here): 6,000 stay under Spark's 1,000 KiB task-size warning.
FILES_PER_TASK = 6000
DUPLICATE_SCHEMA = StructType([f for f in tables.REJECTED_SCHEMA.fields if f.name != "reason"])  # its rows get the reason
SCANNED = "split string, label string, path string, file_size long, file_modified timestamp, content binary"


class SourceError(ValueError):
    """The source tree does not hold what was asked for."""


def _inspect_udf(max_pixels: int, min_side: int):
    """(width, height, reason, image_id) of each file: the image id is the SHA-256 of its
    bytes, hashed here by OpenSSL (Spark's ``sha2`` runs Java's slower digest)."""
    @F.pandas_udf(_CHECK)
    def check(paths: pd.Series, contents: pd.Series) -> pd.DataFrame:
        rows = [(*inspect(p, c, max_pixels, min_side), hashlib.sha256(c).hexdigest()) for p, c in zip(paths, contents)]
        return pd.DataFrame(rows, columns=["width", "height", "reason", "image_id"]).astype(
            {"width": "Int32", "height": "Int32"}
        )

    return check


@dataclass
class ClassFiles:
    """What the listing found for one class, in both splits."""

    label: str
    folders: list[str] = field(default_factory=list)
    files: list[tuple[str, ListedFile]] = field(default_factory=list)  # (split, file)

    def skipped_reason(self, split: str, f: ListedFile) -> str | None:
        """Why Spark's file reader would not return this file (hidden or empty), else None."""
        folder = f"/{split}/{self.label}/"
        relative = f.uri[f.uri.index(folder) + len(folder):] if folder in f.uri else posixpath.basename(f.uri)
        if any(part.startswith((".", "_")) for part in relative.split("/") if part):
            return "hidden_file"
        return "empty_file" if f.size == 0 else None

    def first_files(self, count: int) -> list[str]:
        """The URIs of the first ``count`` files Spark reads, by split and path."""
        readable = sorted((split, f.uri) for split, f in self.files if not self.skipped_reason(split, f))
        return [uri for _, uri in readable[:count]]

    def skipped(self) -> list[tuple]:
        """Rows of ``rejected_images`` for the files Spark's reader would not return."""
        reasons = [(split, f, self.skipped_reason(split, f)) for split, f in self.files]
        return [(f.uri, self.label, split, reason, f.size, f.modified) for split, f, reason in reasons if reason]


def list_classes(fs: HadoopFS, source_root: str, classes: list[str]) -> dict[str, ClassFiles]:
    """Every file of each class (hidden ones too); a class with no folder is an error."""
    listings = {}
    for cls in classes:
        listing = ClassFiles(cls)
        for split in SPLITS:
            folder = join(source_root, split, cls)
            files = fs.list_files(folder)
            if files or fs.exists(folder):
                listing.folders.append(folder)
                listing.files += [(split, f) for f in files]
        if not listing.folders:
            raise SourceError(f"Class {cls!r} has no folder under {source_root}/{{{','.join(SPLITS)}}}.")
        listings[cls] = listing
    return listings


def _location_pattern(source_root: str) -> str:
    """A Java regex capturing (split, class) from the path Spark reports for a file under the root."""
    root = urlparse(source_root).path.rstrip("/")
    return rf"^[a-zA-Z0-9+.-]+:(?://[^/]*)?\Q{root}\E/({'|'.join(SPLITS)})/([^/]+)/"


def _scan(spark: SparkSession, source_root: str, listings: list[ClassFiles]) -> DataFrame:
    """The files Spark's reader returns under the classes' folders, in tasks of about
    FILES_PER_TASK files, a multiple of the cores."""
    folders = [folder for listing in listings for folder in listing.folders]
    files = sum(1 for listing in listings for split, f in listing.files if not listing.skipped_reason(split, f))
    if not files:
        return spark.createDataFrame([], SCANNED)
    slots = spark.sparkContext.defaultParallelism
    location = _location_pattern(source_root)
    return (
        spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(folders)
        .select(
            F.regexp_extract("path", location, 1).alias("split"),
            F.regexp_extract("path", location, 2).alias("label"),
            "path",
            F.col("length").alias("file_size"),
            F.col("modificationTime").alias("file_modified"),
            "content",
        )
        .coalesce(slots * max(1, math.ceil(files / (slots * FILES_PER_TASK))))
    )


@dataclass(frozen=True)
class CheckedFiles:
    """What the driver learns of the files of some classes: rejections by class and reason
    (``duplicate`` and the files Spark's reader skips included), the duplicates themselves
    (a valid file whose content id an earlier path of its class has), how many distinct
    content ids the valid files have, and a thumbnail strip per class."""

    rejected_by_reason: dict[str, dict[str, int]]
    duplicated: list[tuple]  # rows of DUPLICATE_SCHEMA
    distinct_ids: dict[str, int]
    thumbnails: dict[str, str]  # class -> base64 PNG strip


def _check_files(scanned: DataFrame, listings: dict[str, ClassFiles], skipped: list[tuple]) -> CheckedFiles:
    """One Spark job, which also fills ``scanned``'s cache: a few columns of every file,
    and the bytes of each class's thumbnail candidates (its first files in listing order);
    ``skipped`` are the rejected rows of the files the scan does not return.
    The driver holds every path after the listing already; three jobs (counts, a window for
    duplicates, the candidates' bytes) took longer (docs/benchmarks.md)."""
    candidates = [uri for listing in listings.values() for uri in listing.first_files(2 * plots.THUMBNAILS_PER_CLASS)]
    rows = scanned.select(
        "path", "label", "split", "file_size", "file_modified", "reason", "image_id",
        F.when(F.col("path").isin(candidates), F.col("content")).alias("content"),
    ).collect()
    reasons: dict[str, Counter] = {label: Counter() for label in listings}
    for _, label, _, reason, *_ in skipped:
        reasons[label][reason] += 1
    ids: dict[str, set] = {label: set() for label in listings}
    usable, duplicated = [], []
    for row in sorted(rows, key=lambda r: r.path):  # of a content id, the first path is kept
        if row.label not in reasons:
            raise SourceError(f"Spark read files outside the requested class folders ({row.label!r}); nothing was written.")
        if row.reason is not None:
            reasons[row.label][row.reason] += 1
        elif row.image_id in ids[row.label]:
            reasons[row.label]["duplicate"] += 1
            duplicated.append(tuple(row[c] for c in DUPLICATE_SCHEMA.names))
        else:
            ids[row.label].add(row.image_id)
            usable.append(row)
    return CheckedFiles(
        rejected_by_reason={label: dict(counts) for label, counts in reasons.items()}, duplicated=duplicated,
        distinct_ids={label: len(found) for label, found in ids.items()}, thumbnails=_thumbnails(usable),
    )


def _thumbnails(usable: list[Row]) -> dict[str, str]:
    """A base64 PNG strip of the first few ``usable`` images of each class, by split and path."""
    chosen: dict[str, list[tuple]] = {}
    for row in usable:
        if row.content is not None:
            chosen.setdefault(row.label, []).append((row.split, row.path, bytes(row.content)))
    return {
        label: base64.b64encode(plots.thumbnail_strip([c for *_, c in sorted(found)][: plots.THUMBNAILS_PER_CLASS])).decode()
        for label, found in chosen.items()
    }


def _rejected_change(spark: SparkSession, params: IngestParams, reasons: dict[str, dict[str, int]]) -> bool:
    """Whether replacing the classes in ``rejected_images`` would change it: there are
    rejections to write, or rows to remove (or the table is missing, or what it holds is
    not known). Delta records no commit for a replace that adds and removes nothing, but
    still reads the table and runs the write to find that out (about 1.5 s)."""
    held = params.classes_with_rejections
    return (any(reasons.values()) or held is None or bool(set(held) & set(params.classes))
            or not tables.exists(spark, params.rejected_images))


def ingest(spark: SparkSession, params: IngestParams) -> IngestResult:
    """Ingest ``params.classes`` in one scan; replace them in ``raw_images`` and, when that
    changes it, in ``rejected_images``, in one commit each (empty classes included)."""
    started = time.perf_counter()
    classes = params.classes
    loading = tables.load_in_background(spark, [params.raw_images, params.rejected_images])  # while the scan runs
    listings = list_classes(HadoopFS(spark), params.source_root, classes)
    scanned = (
        _scan(spark, params.source_root, list(listings.values()))
        .withColumn("check", _inspect_udf(params.max_pixels, params.min_side)("path", "content"))
        .select("*", "check.*")
        .drop("check")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    skipped = [row for listing in listings.values() for row in listing.skipped()]
    checked = _check_files(scanned, listings, skipped)
    duplicates = spark.createDataFrame(checked.duplicated, DUPLICATE_SCHEMA)
    raw = (scanned.where(F.col("reason").isNull()).join(F.broadcast(duplicates.select("path")), "path", "left_anti")
           .select(*tables.RAW_SCHEMA.names))
    rejected = (
        scanned.where(F.col("reason").isNotNull()).select(*tables.REJECTED_SCHEMA.names)
        .unionByName(duplicates.withColumn("reason", F.lit("duplicate")))
        .unionByName(spark.createDataFrame(skipped, tables.REJECTED_SCHEMA))
    )
    reasons = checked.rejected_by_reason
    rows = dict(raw.groupBy("label").count().collect())  # by Spark: the rows the write gets, duplicates left out
    commit_info = {**params.commit_info, "job": "ingest"}
    if _rejected_change(spark, params, reasons):
        tables.replace_classes(tables.one_file_per_class(rejected, len(classes)), params.rejected_images, classes, commit_info)
    tables.replace_classes(tables.one_file_per_class(raw, len(classes)), params.raw_images, classes, commit_info)
    scanned.unpersist()
    loading.join()
    per_class = {
        cls: IngestedClass(
            files=len(listings[cls].files), ingested=rows.get(cls, 0), distinct_ids=checked.distinct_ids[cls],
            rejected=sum(reasons[cls].values()), rejected_by_reason=reasons[cls], thumbnails=checked.thumbnails.get(cls),
        )
        for cls in classes
    }
    seconds = time.perf_counter() - started
    files = sum(m.files for m in per_class.values())
    return IngestResult(
        files=files,
        ingested=sum(m.ingested for m in per_class.values()),
        rejected=sum(m.rejected for m in per_class.values()),
        seconds=round(seconds, 3),
        files_per_second=round(files / seconds, 2) if seconds and files else None,
        classes=per_class,
    )
