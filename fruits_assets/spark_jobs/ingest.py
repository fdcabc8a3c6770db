"""Ingest a Fruits-360-style tree ``<source>/<Training|Test>/<class>/<file>`` into the lake.

Every file under a requested class ends in exactly one of two tables: ``raw_images``
(usable images, with their original bytes) or ``rejected_images`` (path, class,
split and the reason). The source is only read.
"""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, IntegerType, StringType, StructField, StructType

from . import plots, progress
from .contracts import IngestedClass, IngestParams, IngestResult
from .hadoop_fs import ListedFile
from .images import inspect
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
_CHECK = "width int, height int, reason string, image_id string"
INGEST_FORMAT = 2  # part of every class's fingerprint: bump when the same files would ingest differently
FILES_PER_TASK = 12500  # fewer, bigger tasks: each writes a file per class it holds
THUMBNAIL_THREADS = 4
# Ids, paths and image bytes never repeat: trying a dictionary for them is wasted CPU.
NO_DICTIONARY = {f"parquet.enable.dictionary#{column}": "false" for column in ("image_id", "path", "content")}
OPEN_COST_BYTES = 1024


class SourceError(ValueError):
    """The source tree is missing or does not hold what was asked for."""


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


def _skipped_reason(uri: str, size: int, folder: str) -> str | None:
    """Why Spark's file reader would skip this file (hidden or empty), else None."""
    relative = uri[uri.index(folder) + len(folder) :] if folder in uri else posixpath.basename(uri)
    if any(part.startswith((".", "_")) for part in relative.split("/") if part):
        return "hidden_file"
    return "empty_file" if size == 0 else None


@dataclass
class ClassFiles:
    """What the driver's listing found for one class, in both splits."""

    label: str
    folders: list[str] = field(default_factory=list)
    files: list[tuple[str, ListedFile]] = field(default_factory=list)  # (split, file)

    def fingerprint(self, settings: dict) -> str:
        """Changes whenever a file is added, removed, resized or touched, or a setting changes."""
        listed = sorted((f.uri, f.size, f.modified_ms) for _, f in self.files)
        payload = json.dumps({"format": INGEST_FORMAT, "settings": settings, "files": listed})
        return hashlib.sha256(payload.encode()).hexdigest()

    def _skipped_reason(self, split: str, f: ListedFile) -> str | None:
        return _skipped_reason(f.uri, f.size, f"/{split}/{self.label}/")

    def first_files(self, count: int) -> list[ListedFile]:
        """The first ``count`` files Spark reads, by split and path."""
        readable = sorted((split, f.uri, f) for split, f in self.files if not self._skipped_reason(split, f))
        return [f for *_, f in readable[:count]]

    def skipped(self) -> list[tuple[str, str, str, str]]:
        """(path, label, split, reason) of the files Spark's reader would not return."""
        reasons = [(split, f, self._skipped_reason(split, f)) for split, f in self.files]
        return [(f.uri, self.label, split, reason) for split, f, reason in reasons if reason]


def _list_classes(lake: VersionedLake, source_root: str, classes: list[str]) -> dict[str, ClassFiles]:
    listings = {}
    for cls in classes:
        listing = ClassFiles(cls)
        for split in SPLITS:
            folder = join(source_root, split, cls)
            files = lake.fs.list_files(folder)
            if files or lake.fs.exists(folder):
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


@contextmanager
def _task_size(spark: SparkSession, files: int, total_bytes: int):
    """Size the scan's tasks to the data: about FILES_PER_TASK small files per task
    (Spark's defaults would make a task of every few dozen small files)."""
    slots = spark.sparkContext.defaultParallelism
    tasks = slots * max(1, math.ceil(files / (slots * FILES_PER_TASK)))
    wanted = {
        "spark.sql.files.openCostInBytes": str(OPEN_COST_BYTES),
        "spark.sql.files.maxPartitionBytes": str(max(OPEN_COST_BYTES, (total_bytes + files * OPEN_COST_BYTES) // tasks + 1)),
    }
    before = {key: spark.conf.get(key) for key in wanted}
    for key, value in wanted.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            spark.conf.set(key, value)


def _write_thumbnails(lake: VersionedLake, raw: DataFrame, listings: list[ClassFiles]) -> dict[str, str]:
    """A strip of the first few usable images of each class (in listing order), as
    ``meta/plots/raw_images/<class>.png``: candidates come from the listing, so only
    their bytes are fetched."""
    candidates = [f.uri for listing in listings for f in listing.first_files(2 * plots.THUMBNAILS_PER_CLASS)]
    contents: dict[str, list[tuple]] = {}
    for row in raw.where(F.col("path").isin(candidates)).select("label", "split", "path", "content").collect():
        contents.setdefault(row["label"], []).append((row["split"], row["path"], bytes(row["content"])))
    def write(listing: ClassFiles) -> tuple[str, str] | None:
        chosen = [c for *_, c in sorted(contents.get(listing.label, []))][: plots.THUMBNAILS_PER_CLASS]
        if not chosen:
            return None
        uri = join(lake.root, PLOTS, "raw_images", f"{listing.label}.png")
        lake.fs.write_bytes(uri, plots.thumbnail_strip(chosen))
        return listing.label, uri

    with ThreadPoolExecutor(THUMBNAIL_THREADS) as pool:  # Pillow and the writes release the GIL
        return dict(done for done in pool.map(write, listings) if done)


def _committed(lake: VersionedLake, table: str, cls: str) -> dict | None:
    """The current manifest of ``table``/``cls`` with its ``uri``, or None."""
    found = lake.current_manifest(table, cls)
    return None if found is None else {**found[1], "uri": found[0]}


def _unchanged(lake: VersionedLake, fingerprints: dict[str, str]) -> dict[str, tuple[dict, dict]]:
    """{class: (raw, rejected) current manifests} for the classes whose fingerprint matches."""
    found = {}
    for cls, fingerprint in fingerprints.items():
        raw = _committed(lake, "raw_images", cls)
        rejected = _committed(lake, "rejected_images", cls) if raw and raw.get("fingerprint") == fingerprint else None
        if rejected:
            found[cls] = (raw, rejected)
    return found


def ingest(spark: SparkSession, params: IngestParams) -> IngestResult:
    """Ingest the classes whose files changed since their current version in one scan;
    commit one raw and one rejected version per class; report every class, unchanged
    ones included."""
    lake = VersionedLake(spark, params.lake_root)
    classes = params.classes
    started = time.perf_counter()
    settings = {"max_pixels": params.max_pixels, "min_side": params.min_side}
    listings = _list_classes(lake, params.source_root, classes)
    fingerprints = {c: listing.fingerprint(settings) for c, listing in listings.items()}
    unchanged = _unchanged(lake, fingerprints)
    todo = [c for c in classes if c not in unchanged]
    per_class = {c: _summary(raw, rejected, unchanged=True) for c, (raw, rejected) in unchanged.items()}
    if todo:
        per_class.update(_ingest_classes(
            lake, params.source_root, [listings[c] for c in todo], fingerprints, settings, params.run_id
        ))
    seconds = time.perf_counter() - started
    files = sum(len(listings[c].files) for c in todo)
    return IngestResult(
        files=sum(len(listing.files) for listing in listings.values()),
        ingested=sum(m.ingested for m in per_class.values()),
        rejected=sum(m.rejected for m in per_class.values()),
        scanned_files=files,
        unchanged_classes=sorted(unchanged),
        seconds=round(seconds, 3),
        files_per_second=round(files / seconds, 2) if seconds and files else None,
        classes={c: per_class[c] for c in classes},
    )


def _summary(raw: dict, rejected: dict, unchanged: bool) -> IngestedClass:
    """What ingest reports for a class, from its raw and rejected manifests (with their URIs)."""
    return IngestedClass(
        files=raw["files"],
        ingested=raw["rows"],
        rejected=rejected["rows"],
        rejected_by_reason=rejected["rejected_by_reason"],
        uri=raw["uri"],
        rejected_uri=rejected["uri"],
        thumbnails=raw.get("thumbnails"),
        unchanged=unchanged,
    )


def _ingest_classes(
    lake: VersionedLake, source_root: str, listings: list[ClassFiles], fingerprints: dict[str, str], settings: dict,
    run_id: str | None,
) -> dict[str, IngestedClass]:
    spark = lake.spark
    classes = [listing.label for listing in listings]
    skipped = [row for listing in listings for row in listing.skipped()]
    skipped_uris = {row[0] for row in skipped}
    scanned = [f for listing in listings for _, f in listing.files if f.uri not in skipped_uris]
    folders = [folder for listing in listings for folder in listing.folders]
    location = _location_pattern(source_root)
    with _task_size(spark, len(scanned), sum(f.size for f in scanned)):
        scan = (
            spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(folders)
            .select(
                F.regexp_extract("path", location, 1).alias("split"),
                F.regexp_extract("path", location, 2).alias("label"),
                "path",
                "content",
            )
        ) if scanned else spark.createDataFrame([], "split string, label string, path string, content binary")
        checked = (
            scan.withColumn("check", _inspect_udf(settings["max_pixels"], settings["min_side"])("path", "content"))
            .select("*", "check.*")
            .drop("check")
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        found: dict[str, dict] = {c: {} for c in classes}
        with progress.tracking(spark, "raw_images", len(scanned)):
            counts = checked.groupBy("label", "reason").count().collect()  # also fills the cache
        for row in counts:
            if row["label"] not in found:
                raise SourceError(f"Spark read files outside the requested class folders ({row['label']!r}); nothing was written.")
            found[row["label"]][row["reason"]] = row["count"]
        valid = checked.where(F.col("reason").isNull())
        first = Window.partitionBy("label", "image_id").orderBy("path")
        later = valid.select("path", "label", "split", F.row_number().over(first).alias("_n")).where("_n > 1")
        duplicated = later.drop("_n").collect()  # few, usually none
        duplicates = spark.createDataFrame(duplicated, "path string, label string, split string")
        raw = valid.join(F.broadcast(duplicates.select("path")), "path", "left_anti")
        rejected = (
            checked.where(F.col("reason").isNotNull())
            .select(*REJECTED_SCHEMA.names)
            .unionByName(duplicates.withColumn("reason", F.lit("duplicate")))
            .unionByName(spark.createDataFrame(skipped, REJECTED_SCHEMA))
        )
        reasons = {c: {r: n for r, n in found[c].items() if r is not None} for c in classes}
        for label, reason in [(r.label, "duplicate") for r in duplicated] + [(r[1], r[3]) for r in skipped]:
            reasons[label][reason] = reasons[label].get(reason, 0) + 1
        thumbnails = _write_thumbnails(lake, raw, listings)
        files = {listing.label: len(listing.files) for listing in listings}
        any_rejected = any(reasons.values())
        rejected_written = lake.write_by_class(
            rejected if any_rejected else spark.createDataFrame([], REJECTED_SCHEMA),
            "rejected_images", classes, REJECTED_SCHEMA, {"run_id": run_id},
            per_class={c: {"rejected_by_reason": reasons[c]} for c in classes},
        )
        raw_written = lake.write_by_class(
            raw.select(*RAW_SCHEMA.names), "raw_images", classes, RAW_SCHEMA, {**settings, "run_id": run_id}, NO_DICTIONARY,
            per_class={c: {"fingerprint": fingerprints[c], "files": files[c], "thumbnails": thumbnails.get(c)} for c in classes},
        )
        checked.unpersist()
    return {c: _summary(raw_written[c], rejected_written[c], unchanged=False) for c in classes}
