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
from . import measurements
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


def _tagged(df: DataFrame, classes: list[str]) -> DataFrame:
    """``df`` (which has a ``label`` column) with its class's position in ``classes``."""
    index = F.create_map(*[F.lit(x) for i, c in enumerate(classes) for x in (c, i)])
    return df.withColumn(CLASS_INDEX, index[F.col("label")])


def _observed(df: DataFrame, classes: list[str], table: str) -> tuple[DataFrame, Observation]:
    """``df`` measured per class as it is written: rows plus the table's ``MEASURES``."""
    measures = {"rows": measurements.count, **measurements.MEASURES.get(table, {})}
    row_values = measurements.ROW_VALUES.get(table, {})
    observation = Observation(f"{table}_{uuid.uuid4().hex}")
    exprs = [
        measure(F.col(CLASS_INDEX) == i).alias(f"{name}@{i}")
        for i in range(len(classes))
        for name, measure in measures.items()
    ]
    with_values = df.select("*", *[value().alias(name) for name, value in row_values.items()])
    return with_values.observe(observation, *exprs).drop(*row_values), observation


def _per_class(observation: Observation, classes: list[str]) -> dict[str, dict]:
    found: dict[str, dict] = {c: {} for c in classes}
    for key, value in observation.get.items():
        name, index = key.rsplit("@", 1)
        found[classes[int(index)]][name] = value
    return {c: measurements.finish(m) for c, m in found.items()}


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

    def current_manifest(self, table: str, partition: str | None = None) -> tuple[str, dict] | None:
        """(URI, manifest) of the current version, or None."""
        current = self.current(table, partition)
        return None if current is None else (current, self._manifest_at(current))

    def manifest(self, table: str, partition: str | None = None) -> dict | None:
        """The metrics stored with the current version, or None."""
        found = self.current_manifest(table, partition)
        return None if found is None else found[1]

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
        options: dict[str, str] | None = None,
        per_class: dict[str, dict] | None = None,
    ) -> dict[str, dict]:
        """Write ``df`` in ONE Spark job, then commit one new version per class, empty
        classes included, its manifest holding ``manifest`` and what was measured while
        writing (rows, distinct image ids, the table's ``measurements.MEASURES``).
        Returns {class: manifest + uri}. ``df`` has a ``label`` column; each task sorts
        its rows by class once, after they are measured, and writes a file per class it
        holds. ``options`` go to the Parquet writer; ``per_class`` adds to the manifest
        of each class."""
        df, observation = _observed(_tagged(df, classes), classes, table)
        staged = self.staging()
        df.sortWithinPartitions(CLASS_INDEX).write.options(**(options or {})).partitionBy(CLASS_INDEX).parquet(staged)
        measured = _per_class(observation, classes)
        for index, ids in self._distinct_ids(staged, schema).items():
            measured[classes[index]]["distinct_ids"] = ids
        empty = join(staged, "_empty")
        if not all(m["rows"] for m in measured.values()):  # one empty Parquet file with the schema, copied below
            self.spark.createDataFrame([], schema).coalesce(1).write.parquet(empty)
        written = {}
        for i, cls in enumerate(classes):
            source = join(staged, f"{CLASS_INDEX}={i}")
            if measured[cls]["rows"] == 0:
                self.fs.copy(empty, source)
            entry = {**manifest, **(per_class or {}).get(cls, {}), "distinct_ids": 0, **measured[cls]}
            written[cls] = {**entry, "uri": self.commit(table, cls, source, entry)}
        self.fs.delete(staged)
        return written

    def _distinct_ids(self, staged: str, schema: StructType) -> dict[int, int]:
        """{class index: distinct image ids} of a staged write, reading that one column."""
        if "image_id" not in schema.names or not any(d for _, d in self.fs.list_dir(staged)):
            return {}
        counted = self.spark.read.parquet(staged).groupBy(CLASS_INDEX).agg(F.countDistinct("image_id").alias("ids"))
        return {row[CLASS_INDEX]: row["ids"] for row in counted.collect()}
