"""What each Spark job takes and returns, as dataclasses: the contract between the
Dagster layer and ``spark_jobs``. They travel as JSON, the same way in process (tests,
``LocalSpark``) and through Dagster Pipes on EMR, so both runtimes return the same types."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from .images import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE
from .mobilenet import ModelSpec

CHUNK_ROWS = 20_000  # images featurize writes and commits together; a later failure keeps them


class Contract:
    """JSON round trip for a dataclass of plain values, lists, dicts and nested dataclasses."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict):
        return _decode(cls, data)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


def _decode(kind: Any, value: Any) -> Any:
    """``value`` (parsed JSON) as an instance of the annotation ``kind``."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        (kind,) = [a for a in args if a is not type(None)]  # only Optional[X] is used
        return _decode(kind, value)
    if origin is list:
        return [_decode(args[0], item) for item in value]
    if origin is dict:
        return {key: _decode(args[1], item) for key, item in value.items()}
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        names = {f.name for f in dataclasses.fields(kind) if f.init}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ValueError(f"{kind.__name__} has no field(s) {unknown}.")
        return kind(**{name: _decode(hints[name], item) for name, item in value.items()})
    if kind is float and isinstance(value, int):
        return float(value)
    return value


# Results: what the job measured, plus where it ran when that was not this process.


@dataclass(kw_only=True)
class Runtime(Contract):
    """Where an EMR step ran, how long it took there, and its estimated cost."""

    emr_cluster_id: str
    emr_step_id: str
    emr_console_url: str
    emr_step_seconds: float
    cluster_cores: Optional[int] = None
    estimated_cost_usd: Optional[float] = None


@dataclass(kw_only=True)
class JobResult(Contract):
    seconds: float
    runtime: Optional[Runtime] = None


@dataclass(kw_only=True)
class IngestedClass(Contract):
    files: int
    ingested: int
    rejected: int
    rejected_by_reason: dict[str, int]
    uri: str
    rejected_uri: str
    thumbnails: Optional[str]
    unchanged: bool


@dataclass(kw_only=True)
class IngestResult(JobResult):
    files: int
    ingested: int
    rejected: int
    scanned_files: int
    unchanged_classes: list[str]
    files_per_second: Optional[float]
    classes: dict[str, IngestedClass]


@dataclass(kw_only=True)
class FeaturizedClass(Contract):
    uri: str
    rows: int
    inferred: int
    reused: int
    unchanged: bool


@dataclass(kw_only=True)
class FeaturizeResult(JobResult):
    rows: int
    inferred: int
    reused: int
    unchanged_classes: list[str]
    images_per_second: Optional[float]
    model_seconds: float
    weights: str
    backend: str
    model: str
    threads_per_worker: int
    tasks: int
    model_builds_by_worker: dict[str, int]
    classes: dict[str, FeaturizedClass]


@dataclass(kw_only=True)
class PcaOutput(JobResult):
    """A PCA output: its current version, whether it was kept (its inputs unchanged), the
    digest of those inputs, and the classes and components it covers."""

    uri: str
    unchanged: bool
    inputs: str
    classes: list[str]
    k: int


@dataclass(kw_only=True)
class PcaFitResult(PcaOutput):
    train_rows: int
    covariance_partitions: int
    variance_target: Optional[float]
    explained_variance: list[float]
    cumulative_variance: list[float]
    missing_classes: list[str]
    scree_png: str


@dataclass(kw_only=True)
class PcaProjectResult(PcaOutput):
    rows: int
    columns: list[str]
    model: str
    csv: str
    scatter_png: str


# Parameters: ``job`` names the function of ``spark_jobs.jobs`` that takes them,
# ``result_type`` what it returns.


@dataclass(frozen=True)
class IngestParams(Contract):
    job: ClassVar[str] = "ingest"
    result_type: ClassVar[type] = IngestResult
    source_root: str
    lake_root: str
    classes: list[str]
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_side: int = DEFAULT_MIN_SIDE
    run_id: Optional[str] = None


@dataclass(frozen=True)
class FeaturizeParams(Contract):
    job: ClassVar[str] = "featurize"
    result_type: ClassVar[type] = FeaturizeResult
    lake_root: str
    classes: list[str]
    model: ModelSpec = field(default_factory=ModelSpec)
    force: bool = False
    run_id: Optional[str] = None
    chunk_rows: int = CHUNK_ROWS


@dataclass(frozen=True)
class PcaFitParams(Contract):
    job: ClassVar[str] = "pca_fit"
    result_type: ClassVar[type] = PcaFitResult
    lake_root: str
    classes: list[str]
    k: Optional[int] = None
    variance_target: Optional[float] = 0.95
    force: bool = False


@dataclass(frozen=True)
class PcaProjectParams(Contract):
    job: ClassVar[str] = "pca_project"
    result_type: ClassVar[type] = PcaProjectResult
    lake_root: str
    force: bool = False


RESULT_MESSAGE = "result"  # the key of the Pipes custom message that carries a result
PARAMS: dict[str, type] = {p.job: p for p in (IngestParams, FeaturizeParams, PcaFitParams, PcaProjectParams)}


def fields_of(result_type: type, record: dict, **values: Any) -> Any:
    """A ``result_type`` from a stored manifest (extra keys ignored) and ``values``."""
    names = {f.name for f in dataclasses.fields(result_type)}
    return result_type(**{k: v for k, v in record.items() if k in names and k not in values}, **values)
