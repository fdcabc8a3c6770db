"""What each Spark job takes and returns, as dataclasses: the contract between the
Dagster layer and ``spark_jobs``. They travel as JSON on EMR (the step's argument, its
result object), so both runtimes return the same types."""

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
TRAIN_SPLIT = "Training"  # what a PCA is fitted on (``PcaFitResult.fitted_on``) when it can be
MOMENTS_FILE = "moments.npz"  # in a PCA's model_dir, next to the PCAModel's metadata/ and data/


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
    """One class as ingest wrote it: every file it listed is either ingested or rejected."""

    files: int
    ingested: int
    distinct_ids: int
    rejected: int
    rejected_by_reason: dict[str, int]
    thumbnails: Optional[str]  # a PNG strip of its first images, base64


@dataclass(kw_only=True)
class IngestResult(JobResult):
    files: int
    ingested: int
    rejected: int
    files_per_second: Optional[float]
    classes: dict[str, IngestedClass]


@dataclass(kw_only=True)
class FeaturizedClass(Contract):
    """One class as featurize wrote it, and what it measured while writing."""

    rows: int
    raw_rows: int
    distinct_ids: int
    inferred: int
    reused: int
    bad_vectors: int  # null, not FEATURES long, or holding a NaN or an infinity
    all_vectors_equal: bool


@dataclass(kw_only=True)
class FeaturizeResult(JobResult):
    rows: int
    inferred: int
    reused: int
    images_per_second: Optional[float]
    model_seconds: float
    model: str
    threads_per_worker: int
    tasks: int
    commits: int
    model_builds_by_worker: dict[str, int]
    classes: dict[str, FeaturizedClass]


@dataclass(kw_only=True)
class PcaFitResult(JobResult):
    k: int
    fitted_on: str  # the Training split, or every image when it has fewer than 2
    train_rows: int
    read_classes: int  # the classes whose rows were read (the others' moments came from the fit extended)
    covariance_partitions: int
    explained_variance: list[float]
    cumulative_variance: list[float]
    scree_png: str  # base64


@dataclass(kw_only=True)
class PcaProjectResult(JobResult):
    rows: int
    k: int
    columns: list[str]
    scatter_png: str  # base64


@dataclass(kw_only=True)
class VacuumedTable(Contract):
    deleted_files: int
    version: int


@dataclass(kw_only=True)
class VacuumResult(JobResult):
    tables: dict[str, VacuumedTable]


@dataclass(kw_only=True)
class MigrateResult(JobResult):
    rows: dict[str, int]  # table -> rows migrated


# Parameters: ``job`` names the function of ``spark_jobs.jobs`` that takes them,
# ``result_type`` what it returns. Table locations are Spark URIs of Delta tables;
# ``commit_info`` goes into each commit's ``userMetadata`` (who wrote it, for what).


@dataclass(frozen=True)
class IngestParams(Contract):
    job: ClassVar[str] = "ingest"
    result_type: ClassVar[type] = IngestResult
    source_root: str
    raw_images: str
    rejected_images: str
    classes: list[str]
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_side: int = DEFAULT_MIN_SIDE
    commit_info: dict[str, str] = field(default_factory=dict)
    # the classes of ``classes`` that rejected_images holds rows of (None: not known)
    classes_with_rejections: Optional[list[str]] = None


@dataclass(frozen=True)
class FeaturizeParams(Contract):
    job: ClassVar[str] = "featurize"
    result_type: ClassVar[type] = FeaturizeResult
    raw_images: str
    image_features: str
    network: str  # the converted network's bytes (``mobilenet.bundle``), a file in the lake
    classes: list[str]  # the classes to write
    raw_rows: dict[str, int]  # the images of each class (of ``classes`` and ``measure``) in raw_images
    model: ModelSpec = field(default_factory=ModelSpec)  # its weights resolved (what ``network`` holds)
    measure: list[str] = field(default_factory=list)  # classes whose features are only measured, not written
    reusable: Optional[list[str]] = None  # the classes that may hold features to reuse (None: any)
    force: bool = False  # infer every image again, even those with features from the same model
    commit_info: dict[str, str] = field(default_factory=dict)
    chunk_rows: int = CHUNK_ROWS


@dataclass(frozen=True)
class PcaFitParams(Contract):
    job: ClassVar[str] = "pca_fit"
    result_type: ClassVar[type] = PcaFitResult
    image_features: str
    version: int  # the features table's version the model is fitted on
    classes: list[str]
    model_dir: str  # where the PCAModel is saved, with the moments it was computed from
    k: Optional[int] = None
    variance_target: Optional[float] = 0.95
    # A fit of the Training rows of some of ``classes`` whose rows have not changed since:
    # its moments are added to those of the other classes, which alone are read.
    extends: Optional[str] = None  # that fit's model_dir
    extends_classes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PcaProjectParams(Contract):
    job: ClassVar[str] = "pca_project"
    result_type: ClassVar[type] = PcaProjectResult
    image_features: str
    version: int
    classes: list[str]
    model_dir: str
    csv: str  # the CSV file to write


@dataclass(frozen=True)
class VacuumParams(Contract):
    job: ClassVar[str] = "vacuum"
    result_type: ClassVar[type] = VacuumResult
    tables: dict[str, str]  # name -> location
    retention_hours: int = 168  # Delta's default (7 days): it refuses less


@dataclass(frozen=True)
class MigrateParams(Contract):
    job: ClassVar[str] = "migrate"
    result_type: ClassVar[type] = MigrateResult
    lake_root: str  # the lake of the versioned-folder layout
    tables: dict[str, str]  # name -> Delta location to write
    commit_info: dict[str, str] = field(default_factory=dict)


PARAMS: dict[str, type] = {
    p.job: p for p in (IngestParams, FeaturizeParams, PcaFitParams, PcaProjectParams, VacuumParams, MigrateParams)
}
