"""PCA of the image features as a ``pyspark.ml.feature.PCAModel``.

``fit`` learns the components on the Training split, choosing ``k`` directly or
as the smallest k whose cumulative explained variance reaches a target, and
fixes each component's sign (largest |loading| positive) so results are
deterministic. ``project`` writes every image's coordinates as one CSV file.

Each Spark task sums its partition's Training features into float64 moments (row
count, sum of x, X^T X) with numpy, in parallel; the driver adds the partial sums in
partition order, never in task-completion order, so the covariance, the model and
the CSV are the same bits on every run. The 1280x1280 covariance is decomposed with
numpy on the driver, and the components become a standard ``PCAModel`` (Spark ML
transform, save and load). ``PCA.fit`` itself is not used: with the pure-Java LAPACK of
a pip-installed Spark (F2jLAPACK), it returned, for the very same covariance, the right
spectrum on some calls and a near-flat wrong one (first component 0.7% instead of 67%)
on others.

Coordinates are the features times the model's components (signs applied), computed
with numpy in the Python workers (``FittedPCA.transform``) rather than by
``PCAModel.transform``: Spark's per-row conversion to ML vectors and its Java matrix
product took twice as long, for the same values to within rounding (docs/benchmarks.md).
Each product is one BLAS thread over a block of PROJECTION_BLOCK rows, so an image's
coordinates are the same bits whichever images share its batch (with two threads, or
another block shape, they were not).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark import TaskContext
from pyspark.ml.common import _py2java
from pyspark.ml.feature import PCAModel
from pyspark.ml.linalg import DenseMatrix, DenseVector
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from threadpoolctl import threadpool_limits

from . import plots
from .contracts import PcaFitParams, PcaFitResult, PcaProjectParams, PcaProjectResult, fields_of
from .mobilenet import FEATURES
from .uris import join
from .versioned import VersionedLake

SIGNS = "signs.json"
CSV_NAME = "pca_matrix.csv"
SCREE = "scree.png"
SCATTER = "scatter.png"
SCATTER_POINTS = 5000
TRAIN_SPLIT = "Training"
MOMENT_BLOCK = 2048  # rows per X^T X product in a task
MAX_MOMENT_PARTITIONS = 16  # each sends a 1280x1280 float64 partial sum (13 MB) to the driver
MOMENTS_SCHEMA = "part int, rows long, sums binary, gram binary"
PROJECTION_BLOCK = 128  # rows per matrix product; the last block of a batch is padded with zeros
KEY_COLUMNS = ("path", "label", "split")
SORT_KEY = ("split", "label", "path")  # the CSV's row order
PROJECTION_FORMAT = 2  # part of pca_matrix's inputs: bump when the same model and features would give other coordinates


def check_settings(k: int | None, variance_target: float | None) -> None:
    """Raise a ValueError that says what to fix, before any Spark work."""
    if k is None and variance_target is None:
        raise ValueError("Set either k (1..1280) or variance_target (0 < t <= 1) for the PCA.")
    if k is not None and not (isinstance(k, int) and 1 <= k <= FEATURES):
        raise ValueError(f"PCA k must be an integer within 1..{FEATURES}, got {k!r}.")
    if variance_target is not None and not 0 < variance_target <= 1:
        raise ValueError(f"PCA variance_target must be within (0, 1], got {variance_target!r}.")


class FittedPCA:
    """A PCAModel and its sign convention; ``transform`` gives pc_1..pc_k columns."""

    def __init__(self, model: PCAModel, signs: list[float]):
        self.model = model
        self.signs = signs

    @property
    def k(self) -> int:
        return len(self.signs)

    @property
    def explained_variance(self) -> list[float]:
        return [float(v) for v in self.model.explainedVariance]

    @property
    def columns(self) -> list[str]:
        return [*KEY_COLUMNS, *(f"pc_{i + 1}" for i in range(self.k))]

    def transform(self, features: DataFrame) -> DataFrame:
        """path, label, split and pc_1..pc_k (double) of each row of ``features``."""
        components = self.model.pc.toArray() * np.asarray(self.signs)
        schema = ", ".join([*(f"{c} string" for c in KEY_COLUMNS), *(f"{c} double" for c in self.columns[len(KEY_COLUMNS):])])
        return features.select(*KEY_COLUMNS, "features").mapInArrow(_projector(components, self.columns), schema)

    @classmethod
    def load(cls, spark: SparkSession, uri: str) -> "FittedPCA":
        signs = json.loads(VersionedLake(spark, uri).fs.read_bytes(join(uri, SIGNS)))
        return cls(PCAModel.load(join(uri, "model")), signs)


def _projector(components: np.ndarray, columns: list[str]):
    """The ``mapInArrow`` function of ``FittedPCA.transform``."""
    def project(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            coordinates = project_rows(batch.column("features"), components)
            yield pa.RecordBatch.from_arrays(
                [*(batch.column(c) for c in KEY_COLUMNS), *(pa.array(coordinates[:, j]) for j in range(coordinates.shape[1]))],
                names=columns,
            )

    return project


def project_rows(features: pa.ListArray, components: np.ndarray) -> np.ndarray:
    """(rows, k) float64 coordinates of the rows of ``features`` (lists of the features'
    length) in ``components`` (features x k): products of PROJECTION_BLOCK rows on one
    BLAS thread, so each row's coordinates are the same bits whatever rows come with it."""
    rows, width = len(features), components.shape[0]
    values = features.flatten().to_numpy(zero_copy_only=False)
    if features.null_count or values.size != rows * width:
        raise ValueError(f"Every image needs {width} feature values to be projected; some rows are missing or of another length.")
    values = values.reshape(rows, width)
    coordinates = np.empty((rows, components.shape[1]))
    block = np.zeros((PROJECTION_BLOCK, width))
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, rows, PROJECTION_BLOCK):
            part = values[start : start + PROJECTION_BLOCK]
            block[: len(part)] = part
            block[len(part) :] = 0.0
            coordinates[start : start + len(part)] = (block @ components)[: len(part)]
    return coordinates


def _partial_moments(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """One row per partition: its index, row count, sum of x and X^T X (float64 bytes)."""
    rows, sums, gram, pending = 0, None, None, []

    def add(block: list) -> None:
        nonlocal rows, sums, gram
        x = np.stack(block).astype(np.float64)
        if gram is None:
            sums, gram = np.zeros(x.shape[1]), np.zeros((x.shape[1], x.shape[1]))
        rows, sums, gram = rows + len(x), sums + x.sum(axis=0), gram + x.T @ x

    for batch in batches:
        pending.extend(batch["features"])
        if len(pending) >= MOMENT_BLOCK:
            add(pending)
            pending = []
    if pending:
        add(pending)
    if rows:
        yield pd.DataFrame({"part": [TaskContext.get().partitionId()], "rows": [rows],
                            "sums": [sums.tobytes()], "gram": [gram.tobytes()]})


def _covariance(train: DataFrame) -> tuple[int, np.ndarray, int]:
    """(rows, covariance, partitions summed in parallel) of the ``features`` of ``train``."""
    partitions = min(train.rdd.getNumPartitions(), MAX_MOMENT_PARTITIONS)
    parts = sorted(
        train.select("features").coalesce(partitions).mapInPandas(_partial_moments, MOMENTS_SCHEMA).collect(),
        key=lambda part: part.part,
    )
    rows = sum(part.rows for part in parts)
    if rows < 2:
        return rows, np.zeros((0, 0)), len(parts)
    sums, gram = 0.0, 0.0
    for part in parts:  # partition order: the same additions, in the same order, every run
        sums = sums + np.frombuffer(part.sums, dtype=np.float64)
        gram = gram + np.frombuffer(part.gram, dtype=np.float64).reshape(len(sums), len(sums))
    mean = sums / rows
    return rows, (gram - rows * np.outer(mean, mean)) / (rows - 1), len(parts)


def _spectrum(covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explained-variance ratios (descending) and their unit eigenvectors (columns)."""
    values, vectors = np.linalg.eigh(covariance)
    values = np.clip(values[::-1], 0.0, None)
    if values.sum() <= 0:
        raise ValueError("Every feature is constant over the Training images: there is nothing to reduce.")
    return values / values.sum(), vectors[:, ::-1]


def _model(spark: SparkSession, vectors: np.ndarray, explained: np.ndarray, k: int) -> PCAModel:
    """A Spark ML PCAModel holding the first ``k`` components."""
    sc = spark.sparkContext
    pc = DenseMatrix(vectors.shape[0], k, vectors[:, :k].ravel(order="F").tolist())
    java = sc._jvm.org.apache.spark.ml.feature.PCAModel(
        "PCA_fruits_assets", _py2java(sc, pc), _py2java(sc, DenseVector(explained[:k].tolist()))
    )
    model = PCAModel(java)
    model._set(inputCol="_v", outputCol="_pca", k=k)
    model._transfer_params_to_java()
    return model


def _signs(model: PCAModel) -> list[float]:
    components = model.pc.toArray()
    biggest = components[np.abs(components).argmax(axis=0), np.arange(components.shape[1])]
    return [1.0 if v >= 0 else -1.0 for v in biggest]


def _inputs(described: dict) -> str:
    """A digest of everything an output was computed from."""
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _unchanged(lake: VersionedLake, table: str, inputs: str, force: bool) -> tuple[str, dict] | None:
    """(URI, manifest) of the current version of ``table`` if it was computed from ``inputs``."""
    found = None if force else lake.current_manifest(table)
    return found if found and found[1].get("inputs") == inputs else None


def fit(spark: SparkSession, params: PcaFitParams) -> PcaFitResult:
    """Fit on the Training split of the classes; commit the model. The current model is
    kept (``unchanged``) when neither the classes' feature versions nor the settings
    changed, unless ``force``."""
    k, variance_target, classes = params.k, params.variance_target, params.classes
    check_settings(k, variance_target)
    lake = VersionedLake(spark, params.lake_root)
    started = time.perf_counter()
    versions = {c: lake.current("image_features", c) for c in classes}
    missing = [c for c, uri in versions.items() if uri is None]
    classes = [c for c in classes if c not in missing]
    if not classes:
        raise LookupError("No class has image_features yet: materialize image_features first.")
    inputs = _inputs({"features": [versions[c] for c in classes], "k": k, "variance_target": variance_target})
    done = _unchanged(lake, "pca_model", inputs, params.force)
    if done:
        return fields_of(PcaFitResult, done[1], uri=done[0], unchanged=True, scree_png=join(done[0], SCREE),
                         seconds=round(time.perf_counter() - started, 3))
    features = lake.spark.read.parquet(*[versions[c] for c in classes])
    rows, covariance, partitions = _covariance(features.where(F.col("split") == TRAIN_SPLIT))
    if rows < 2:
        raise ValueError(f"PCA needs at least 2 Training images; found {rows} in {len(classes)} class(es).")
    spectrum, vectors = _spectrum(covariance)
    if k is None:
        k = int(min(np.searchsorted(np.cumsum(spectrum), variance_target - 1e-12) + 1, FEATURES))
    model = _model(spark, vectors, spectrum, k)
    fitted = FittedPCA(model, _signs(model))
    staged = lake.staging()
    model.save(join(staged, "model"))
    lake.fs.write_bytes(join(staged, SIGNS), json.dumps(fitted.signs).encode())
    explained = fitted.explained_variance
    lake.fs.write_bytes(join(staged, SCREE), plots.scree(explained, spectrum.tolist(), k, variance_target))
    metrics = {
        "k": k,
        "train_rows": rows,
        "covariance_partitions": partitions,
        "variance_target": variance_target,
        "explained_variance": explained,
        "cumulative_variance": np.cumsum(explained).tolist(),
        "classes": classes,
        "missing_classes": missing,
        "inputs": inputs,
    }
    uri = lake.commit("pca_model", None, staged, metrics)
    return fields_of(PcaFitResult, metrics, uri=uri, unchanged=False, scree_png=join(uri, SCREE),
                     seconds=round(time.perf_counter() - started, 3))


def project(spark: SparkSession, params: PcaProjectParams) -> PcaProjectResult:
    """Project every image of the classes the current model was fitted on into one CSV
    (kept as it is when the model and those classes' features are unchanged)."""
    lake = VersionedLake(spark, params.lake_root)
    started = time.perf_counter()
    model = lake.current_manifest("pca_model")
    if model is None:
        raise LookupError("No pca_model in the lake yet: materialize pca_model first.")
    model_uri, classes = model[0], model[1]["classes"]
    features = lake.current_all("image_features", classes)
    inputs = _inputs({"model": model_uri, "features": features, "format": PROJECTION_FORMAT})
    done = _unchanged(lake, "pca_matrix", inputs, params.force)
    if done:
        return _projected(done[0], done[1], True, started)
    fitted = FittedPCA.load(spark, model_uri)
    # Projected once and cached: the sort's sampling pass then reads the cache instead of
    # projecting every row a second time.
    projected = fitted.transform(spark.read.parquet(*features)).persist()
    rows = projected.count()
    staged = lake.staging()
    _write_csv(lake, projected, join(staged, CSV_NAME))
    points = projected.select("label", "pc_1", F.col(f"pc_{min(2, fitted.k)}").alias("pc_2"))
    lake.fs.write_bytes(join(staged, SCATTER), plots.scatter(points.sample(min(1.0, SCATTER_POINTS / max(rows, 1)), seed=0).toPandas()))
    projected.unpersist()
    metrics = {"rows": rows, "k": fitted.k, "columns": projected.columns,
               "model": model_uri, "classes": classes, "inputs": inputs}
    uri = lake.commit("pca_matrix", None, staged, metrics)
    return _projected(uri, metrics, False, started)


def _write_csv(lake: VersionedLake, projected: DataFrame, uri: str) -> None:
    """One CSV file of ``projected``, rows ordered by split, label and path: a part per
    core, each sorted, written in parallel, then joined in order under one header."""
    parts_uri = f"{uri}.parts"
    slots = lake.spark.sparkContext.defaultParallelism
    projected.repartitionByRange(slots, *SORT_KEY).sortWithinPartitions(*SORT_KEY).write.csv(parts_uri)
    parts = sorted(name for name, _ in lake.fs.list_dir(parts_uri) if name.startswith("part-"))  # partition order
    lake.fs.concatenate((",".join(projected.columns) + "\n").encode(), [join(parts_uri, p) for p in parts], uri)
    lake.fs.delete(parts_uri)


def _projected(uri: str, manifest: dict, unchanged: bool, started: float) -> PcaProjectResult:
    return fields_of(PcaProjectResult, manifest, uri=uri, unchanged=unchanged, csv=join(uri, CSV_NAME),
                     scatter_png=join(uri, SCATTER), seconds=round(time.perf_counter() - started, 3))
