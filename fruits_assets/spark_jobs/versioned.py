"""Atomic, versioned table partitions on any Hadoop file system.

A writer stages its files anywhere under ``_staging/``, then ``commit`` moves them
to a fresh ``v=<timestamp>-<token>`` folder and writes ``_COMMITTED`` last. Readers
only ever see committed versions, so a writer killed midway leaves the previous
version complete and readable; older versions are removed after a commit.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from .hadoop_fs import HadoopFS
from .layout import STAGING, table_dir
from .uris import join

COMMITTED = "_COMMITTED"
CLASS_INDEX = "_class"


class MissingPartitions(LookupError):
    """Some requested partitions have no committed version yet."""


def new_version() -> str:
    """A fresh version folder name; names sort in creation order."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return f"v={stamp}-{uuid.uuid4().hex[:8]}"


def by_class(df: DataFrame, classes: list[str]) -> tuple[DataFrame, Observation]:
    """``df`` (which has a ``label`` column) tagged with its class's position in
    ``classes``, its rows counted per class as they flow, and sorted by class within
    each partition. ``write_by_class`` writes such a frame, or a row-for-row
    projection of it, as it streams in: one open file at a time, no sort at the end."""
    index = F.create_map(*[F.lit(x) for i, c in enumerate(classes) for x in (c, i)])
    counts = Observation(f"rows_by_class_{uuid.uuid4().hex}")
    rows = [F.sum((F.col(CLASS_INDEX) == i).cast("long")).alias(str(i)) for i in range(len(classes))]
    tagged = df.withColumn(CLASS_INDEX, index[F.col("label")]).observe(counts, *rows)
    return tagged.sortWithinPartitions(CLASS_INDEX), counts


class VersionedLake:
    """Versioned tables under one lake root (a Spark-readable URI)."""

    def __init__(self, spark: SparkSession, root: str):
        self.spark = spark
        self.root = root.rstrip("/")
        self.fs = HadoopFS(spark)

    def location(self, table: str, partition: str | None = None) -> str:
        return join(self.root, table_dir(table, partition))

    def staging(self) -> str:
        """A fresh, private folder to write into before committing."""
        return join(self.root, STAGING, uuid.uuid4().hex)

    def current(self, table: str, partition: str | None = None) -> str | None:
        """URI of the newest committed version, or None."""
        location = self.location(table, partition)
        versions = sorted(
            (name for name, is_dir in self.fs.list_dir(location) if is_dir and name.startswith("v=")),
            reverse=True,
        )
        for version in versions:
            if self.fs.exists(join(location, version, COMMITTED)):
                return join(location, version)
        return None

    def manifest(self, table: str, partition: str | None = None) -> dict | None:
        """The metrics stored with the current version, or None."""
        current = self.current(table, partition)
        return None if current is None else self._manifest_at(current)

    def _manifest_at(self, version: str) -> dict:
        return json.loads(self.fs.read_bytes(join(version, COMMITTED)))

    def commit(self, table: str, partition: str | None, staged: str, manifest: dict) -> str:
        """Publish ``staged`` as the new current version; return its URI."""
        location = self.location(table, partition)
        target = join(location, new_version())
        self.fs.rename(staged, target)
        self.fs.write_bytes(join(target, COMMITTED), json.dumps(manifest, sort_keys=True).encode())
        for name, is_dir in self.fs.list_dir(location):
            if is_dir and name.startswith("v=") and join(location, name) < target:
                self.fs.delete(join(location, name))
        return target

    def current_all(self, table: str, partitions: list[str]) -> list[str]:
        """Current version URIs of ``partitions``; raise naming any that are missing."""
        found = {p: self.current(table, p) for p in partitions}
        missing = sorted(p for p, uri in found.items() if uri is None)
        if missing:
            raise MissingPartitions(
                f"{table} has no committed data for {len(missing)} class(es): "
                f"{', '.join(missing[:10])}. Materialize {table} for them first."
            )
        return [found[p] for p in partitions]

    def read_parquet(self, table: str, partitions: list[str]) -> DataFrame:
        """All rows of the current versions of ``partitions``, as one DataFrame."""
        return self.spark.read.parquet(*self.current_all(table, partitions))

    def current_rows(self, table: str, partitions: list[str]) -> dict[str, tuple[str, int]]:
        """{partition: (current version URI, rows)}, rows from the commit manifests."""
        uris = self.current_all(table, partitions)
        return {p: (uri, self._manifest_at(uri)["rows"]) for p, uri in zip(partitions, uris)}

    def committed_partitions(self, table: str) -> list[str]:
        """Names of the partitions of ``table`` that have a committed version."""
        names = [n for n, is_dir in self.fs.list_dir(self.location(table)) if is_dir]
        return sorted(n for n in names if self.current(table, n) is not None)

    def write_by_class(
        self,
        df: DataFrame,
        table: str,
        classes: list[str],
        schema: StructType,
        manifest: dict,
        counts: Observation | None = None,
        options: dict[str, str] | None = None,
    ) -> dict[str, dict]:
        """Write ``df`` in ONE Spark job, then commit one new version per class, empty
        classes included. Returns {class: {rows, uri}}. ``df`` has a ``label`` column,
        or comes from ``by_class`` (then pass its ``counts``); ``options`` go to the
        Parquet writer."""
        if counts is None:
            df, counts = by_class(df, classes)
        staged = self.staging()
        df.write.options(**(options or {})).partitionBy(CLASS_INDEX).parquet(staged)
        counted = counts.get
        counts_by_class = {c: int(counted[str(i)] or 0) for i, c in enumerate(classes)}
        empty = join(staged, "_empty")
        if not all(counts_by_class.values()):  # one empty Parquet file with the schema, copied below
            self.spark.createDataFrame([], schema).coalesce(1).write.parquet(empty)
        written = {}
        for i, cls in enumerate(classes):
            source = join(staged, f"{CLASS_INDEX}={i}")
            if counts_by_class[cls] == 0:
                self.fs.copy(empty, source)
            entry = {**manifest, "rows": counts_by_class[cls]}
            written[cls] = {**entry, "uri": self.commit(table, cls, source, entry)}
        self.fs.delete(staged)
        return written
