"""What the domains' asset declarations share: ownership and grouping, the Spark pool and
retry policy, standard metadata, per-class check evaluations, and Dagster's record of an
asset's latest materialization."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    Backoff,
    DataVersion,
    MetadataValue,
    PreviewWarning,
    RetryPolicy,
    TableColumn,
    TableSchema,
)
from pyspark.sql.types import StructType

from ..partitions import fruit_classes
from ..resources.io_manager import DELTA, STORAGE
from ..spark_jobs.contracts import JobResult

OWNERS = ["team:fruits-data"]
GROUP = "fruits"
CODE_VERSION = "3"  # bump when an asset's code computes different data from the same inputs
SPARK_POOL = "spark"  # dagster.yaml limits it to one step at a time
# Transient failures (a lost executor, a throttled S3 call) are retried; resources turn
# every other error into a Failure that is not (resources.spark).
SPARK_RETRY = RetryPolicy(max_retries=2, delay=10, backoff=Backoff.EXPONENTIAL)
LAKE_ASSET = {"group_name": GROUP, "owners": OWNERS, "code_version": CODE_VERSION}
DATA_VERSION_TAG = "dagster/data_version"
KEPT = "unchanged"  # metadata: whether a materialization kept the files of the current version
RESULT_CLASSES = 50  # a check's result for a run names at most this many classes that did not pass


def class_table(stage: str) -> dict:
    """The AssetSpec arguments of a Delta table partitioned by fruit class, written by Spark."""
    return {"partitions_def": fruit_classes, "kinds": {"spark", "delta"}, "tags": {"stage": stage},
            "metadata": {STORAGE: DELTA}, **LAKE_ASSET}


def digest(value) -> str:
    """A short, stable digest of any JSON value: data versions are made of these."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def png_markdown(images: dict[str, str]) -> MetadataValue:
    """Base64 PNGs embedded in markdown (the UI shows them inline), each under its title."""
    return MetadataValue.md("\n\n".join(f"**{title}**\n\n![{title}](data:image/png;base64,{png})"
                                        for title, png in images.items()))


def png_bytes_markdown(images: dict[str, bytes]) -> MetadataValue:
    return png_markdown({title: base64.b64encode(png).decode() for title, png in images.items()})


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


def column_schema(struct: StructType) -> TableSchema:
    """A Spark schema as Dagster's ``dagster/column_schema``."""
    return TableSchema(columns=[TableColumn(f.name, f.dataType.simpleString()) for f in struct.fields])


def table_metadata(rows: int, schema: TableSchema, uri: str, version: int | None) -> dict:
    """The metadata Dagster's UI knows (row count, column schema, location) and the Delta
    table version the materialization produced or found."""
    return {
        "dagster/row_count": MetadataValue.int(int(rows)),
        "dagster/column_schema": schema,
        "dagster/uri": uri,
        "table_version": MetadataValue.int(version) if version is not None else MetadataValue.null(),
    }


@dataclass(frozen=True)
class Outcome:
    """A check's verdict on one class, and what it saw."""

    passed: bool
    metadata: dict


@dataclass(frozen=True)
class ClassCheck:
    """A per-class check: the pure function that evaluates one class's measures (its name
    and docstring name and describe the check), blocking unless it only warns."""

    asset: AssetKey
    evaluate: Callable[[object], Outcome]
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR

    @property
    def spec(self) -> AssetCheckSpec:
        with warnings.catch_warnings():  # partitioned checks are a preview of Dagster 1.13: this project relies on them
            warnings.simplefilter("ignore", PreviewWarning)
            return AssetCheckSpec(
                self.evaluate.__name__, asset=self.asset, partitions_def=fruit_classes,
                blocking=self.severity == AssetCheckSeverity.ERROR, description=(self.evaluate.__doc__ or "").strip(),
            )


def class_evaluations(checks: Iterable[ClassCheck], measures: dict[str, object],
                      selected: set) -> Iterator[AssetCheckEvaluation | AssetCheckResult]:
    """One evaluation per check and class, on the class's partition (a run over a range of
    classes records one materialization for all of them, and Dagster gives a check result
    no partition), then the check's result for the run: passed when every class passed."""
    for check in checks:
        spec = check.spec
        if spec.key not in selected:
            continue
        failed = []
        for cls, measured in measures.items():
            outcome = check.evaluate(measured)
            if not outcome.passed:
                failed.append(cls)
            yield AssetCheckEvaluation(
                asset_key=spec.asset_key, check_name=spec.name, passed=outcome.passed, partition=cls,
                blocking=spec.blocking, severity=check.severity, metadata=outcome.metadata,
            )
        yield AssetCheckResult(
            asset_key=spec.asset_key, check_name=spec.name, passed=not failed, severity=check.severity,
            metadata={"classes": len(measures), "classes_not_passed": len(failed),
                      "not_passed": MetadataValue.json(failed[:RESULT_CLASSES])},
        )


def previous_materialization(context: AssetExecutionContext, key: AssetKey) -> tuple[str | None, dict] | None:
    """(data version, metadata values) of the latest materialization of ``key``, or None."""
    event = context.instance.get_latest_materialization_event(key)
    if event is None:
        return None
    materialization = event.asset_materialization
    return materialization.tags.get(DATA_VERSION_TAG), {k: v.value for k, v in materialization.metadata.items()}


def kept(previous: dict) -> dict:
    """The metadata of a kept version, carried from the materialization that wrote it."""
    return {**{k: v for k, v in previous.items() if k != KEPT}, KEPT: True}


def recorded_observations(context: AssetExecutionContext, key: AssetKey, classes: Iterable[str]) -> dict[str, dict]:
    """{class: metadata values of its latest observation} for the classes that have one."""
    found = {}
    for cls in classes:
        records = context.instance.fetch_observations(AssetRecordsFilter(asset_key=key, asset_partitions=[cls]), limit=1)
        if records.records:
            observation = records.records[0].asset_observation
            found[cls] = {k: v.value for k, v in observation.metadata.items()}
    return found


def data_version_of(parts: dict[str, str]) -> DataVersion:
    """The data version of a run over classes: changes exactly when one class's content does."""
    return DataVersion(digest(parts))
