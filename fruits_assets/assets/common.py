"""Helpers shared by the asset declarations."""


import base64
import dataclasses
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetObservation,
    DataVersion,
    MetadataValue,
    TableColumn,
    TableSchema,
)
from pyspark.sql.types import StructType

from ..resources import LakeResource
from ..spark_jobs.contracts import JobResult
from ..spark_jobs.layout import check_partition_key

SPARK_POOL = "spark"  # dagster.yaml limits it to one step at a time
OWNERS = ["team:fruits-data"]
GROUP = "fruits"
IO_MANAGER = "lake_io_manager"
CODE_VERSION = "2"  # bump when an asset's code computes different data from the same inputs
LAKE_ASSET = {"io_manager_key": IO_MANAGER, "group_name": GROUP, "owners": OWNERS, "code_version": CODE_VERSION}
ASSET_KWARGS = {**LAKE_ASSET, "pool": SPARK_POOL}  # the Spark-backed assets


def selected_classes(context: AssetExecutionContext, lake: LakeResource) -> list[str]:
    """The run's fruit classes, validated, after checking the lake is writable."""
    classes = [check_partition_key(k) for k in context.partition_keys]
    lake.store().check_writable()
    return classes


def png_markdown(images: dict[str, bytes]) -> MetadataValue:
    """PNGs embedded in markdown (the UI shows them inline), each under its title."""
    parts = [f"**{title}**\n\n![{title}](data:image/png;base64,{base64.b64encode(png).decode()})"
             for title, png in images.items()]
    return MetadataValue.md("\n\n".join(parts))


def class_observations(asset: str, per_class: dict[str, dict]) -> Iterator[AssetObservation]:
    """One observation per class partition with that class's own metadata. A run over a
    range of classes reports one materialization, which Dagster copies to every class:
    per-class details there would grow with the square of the classes (and name the
    other classes' figures on each one)."""
    for cls, metadata in per_class.items():
        yield AssetObservation(asset_key=asset, partition=cls, metadata=metadata)


def runtime_metadata(result: JobResult) -> dict:
    """Where the job ran when not in this process: EMR cluster id, step id, console link,
    cores, and the step's estimated cost (labelled as such)."""
    if result.runtime is None:
        return {}
    shown = {}
    for key, value in dataclasses.asdict(result.runtime).items():
        if value is None:
            continue
        if key == "estimated_cost_usd":
            shown["estimated_cost_usd (estimate: instance-hours x on-demand list prices)"] = MetadataValue.float(value)
        else:
            shown[key] = MetadataValue.url(value) if key.endswith("_url") else value
    return shown


def run_metadata(result: JobResult, count_name: str, count: int, rate: float | None) -> dict:
    """Counts, speed, duration and runtime every image asset reports."""
    rate = float(rate or 0.0)
    cores = result.runtime.cluster_cores if result.runtime else None
    per_core = {"images_per_second_per_core": MetadataValue.float(round(rate / cores, 3))} if cores else {}
    return {
        count_name: MetadataValue.int(int(count)),
        "seconds": MetadataValue.float(float(result.seconds)),
        "images_per_second": MetadataValue.float(rate),
        **per_core,
        **runtime_metadata(result),
    }


def column_schema(struct: StructType) -> TableSchema:
    """A Spark schema as Dagster's ``dagster/column_schema``."""
    return TableSchema(columns=[TableColumn(f.name, f.dataType.simpleString()) for f in struct.fields])


def version_of(uris: Iterable[str | None]) -> DataVersion:
    """The data version of a set of committed versions: it changes exactly when one of them does."""
    return DataVersion(hashlib.sha256("\n".join(sorted(u or "" for u in uris)).encode()).hexdigest()[:16])


def standard_metadata(rows: int, schema: TableSchema, uri: str) -> dict:
    """The metadata Dagster's UI knows: row count, column schema, location."""
    return {"dagster/row_count": MetadataValue.int(int(rows)), "dagster/column_schema": schema, "dagster/uri": uri}


@contextmanager
def committed_kept_on_failure(
    context: AssetExecutionContext, lake: LakeResource, tables: list[str], classes: list[str]
) -> Iterator[None]:
    """If the job fails, record as materialized the classes it had already committed in
    this run (their manifests carry the run id), then fail: a retry finds them unchanged."""
    try:
        yield
    except Exception:
        for table in tables:
            for cls, manifest in lake.manifests(table, classes).items():
                if manifest and manifest.get("run_id") == context.run_id:
                    context.log_event(AssetMaterialization(
                        asset_key=AssetKey(table), partition=cls,
                        metadata={"committed_before_the_run_failed": True, "dagster/row_count": manifest["rows"]},
                    ))
        raise
