"""Convert the tables of a lake in the versioned-folder layout (``<table>/<class>/v=<version>/``,
the current version of a class being the newest with a ``_COMMITTED`` manifest) into the
Delta tables: each class's current version, once, in one commit per table.

The old layout kept no file modification times, so migrated rows have none: the next
ingest reads those classes' files again (finding the same images, it rewrites them) and
featurize reuses every feature by content id. The old folders are left as they were.
"""

from __future__ import annotations

import json
import time
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from .. import tables
from ..contracts import MigrateParams, MigrateResult
from ..hadoop_fs import HadoopFS
from ..uris import join

OLD_FOLDERS = {"raw_images": "data/raw/images", "rejected_images": "data/raw/rejected", "image_features": "data/features"}
COMMITTED = "_COMMITTED"


def new_columns(table: str) -> dict:
    """The columns the Delta table has and the old one did not (no modification times were kept)."""
    unknown = F.lit(None).cast("timestamp")
    if table == "raw_images":
        return {"file_size": F.length("content").cast("long"), "file_modified": unknown}
    if table == "rejected_images":
        return {"file_size": F.lit(None).cast("long"), "file_modified": unknown}
    return {}


SCHEMAS = {"raw_images": tables.RAW_SCHEMA, "rejected_images": tables.REJECTED_SCHEMA, "image_features": tables.FEATURES_SCHEMA}


class MigrationError(ValueError):
    """The lake cannot be migrated as it is; the message says why."""


def current_versions(fs: HadoopFS, lake_root: str, folder: str) -> dict[str, tuple[str, dict]]:
    """{class: (URI of its newest committed version, its manifest)} under an old table folder."""
    newest: dict[str, tuple[str, str]] = {}
    marker = f"/{folder}/"
    for listed in fs.list_files(join(lake_root, folder)):
        if not listed.uri.endswith("/" + COMMITTED):
            continue
        cls, version = listed.uri.split(marker, 1)[1].split("/")[:2]
        if cls not in newest or version > newest[cls][1]:
            newest[cls] = (listed.uri.rsplit("/", 1)[0], version)
    return {cls: (uri, json.loads(fs.read_bytes(join(uri, COMMITTED)))) for cls, (uri, _) in sorted(newest.items())}


def migrate(spark: SparkSession, params: MigrateParams) -> MigrateResult:
    started = time.perf_counter()
    fs = HadoopFS(spark)
    if existing := [t for t, location in params.tables.items() if tables.exists(spark, location)]:
        raise MigrationError(f"The lake already has Delta tables ({', '.join(existing)}): it was migrated, or written anew.")
    rows = {}
    for table, location in params.tables.items():
        versions = current_versions(fs, params.lake_root, OLD_FOLDERS[table])
        if not versions:
            continue
        parts: list[DataFrame] = []
        for cls, (uri, manifest) in versions.items():
            part = spark.read.parquet(uri).withColumn("label", F.lit(cls))
            if table == "image_features":
                part = part.withColumn("model", F.lit(manifest["model"]))
            parts.append(part.withColumns(new_columns(table)).select(*SCHEMAS[table].names))
        migrated = reduce(DataFrame.unionByName, parts)
        tables.replace_classes(migrated, location, list(versions), {**params.commit_info, "migrated_from": OLD_FOLDERS[table]})
        rows[table] = sum(manifest["rows"] for _, manifest in versions.values())
    if not rows:
        raise MigrationError(f"{params.lake_root} holds no table of the versioned-folder layout: nothing to migrate.")
    return MigrateResult(rows=rows, seconds=round(time.perf_counter() - started, 3))
