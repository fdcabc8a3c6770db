"""The covariance of the features and its spectrum.

Each Spark task sums its partition's features into float64 moments (row count, sum of
x, X^T X) with numpy, in parallel; the driver adds the partial sums in partition order,
never in task-completion order, so the covariance, the model and the CSV are the same
bits on every run. The moments are kept with the model (``Moments.to_bytes``): a fit
on more classes adds the new classes' moments to them instead of reading every row
again (its sums then differ from a fit from scratch in the last bits only). The
1280x1280 covariance is decomposed with numpy on the driver:
``pyspark.ml.feature.PCA.fit`` (pure-Java LAPACK in a pip-installed Spark) returned, for
the very same covariance, the right spectrum on some calls and a near-flat wrong one
(first component 0.7 % instead of 67 %) on others (``test_every_fit_finds_the_spectrum_numpy_finds``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd
from pyspark import TaskContext
from pyspark.sql import DataFrame

MOMENT_BLOCK = 2048  # rows per X^T X product in a task
MAX_MOMENT_PARTITIONS = 16  # each sends a 1280x1280 float64 partial sum (13 MB) to the driver
MOMENTS_SCHEMA = "part int, rows long, sums binary, gram binary"


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


@dataclass(frozen=True)
class Moments:
    """Row count, sum of x and X^T X (float64) of a set of feature rows."""

    rows: int
    sums: np.ndarray
    gram: np.ndarray

    def __add__(self, other: "Moments") -> "Moments":
        if not other.rows:
            return self
        if not self.rows:
            return other
        return Moments(self.rows + other.rows, self.sums + other.sums, self.gram + other.gram)

    def covariance(self) -> np.ndarray:
        """The sample covariance (needs at least 2 rows)."""
        mean = self.sums / self.rows
        return (self.gram - self.rows * np.outer(mean, mean)) / (self.rows - 1)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, rows=self.rows, sums=self.sums, gram=self.gram)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Moments":
        with np.load(io.BytesIO(data)) as saved:
            return cls(int(saved["rows"]), saved["sums"], saved["gram"])


NO_ROWS = Moments(0, np.zeros(0), np.zeros((0, 0)))


def moments(rows_of: DataFrame) -> tuple[Moments, int]:
    """(moments, partitions summed in parallel) of the ``features`` column."""
    partitions = max(1, min(rows_of.rdd.getNumPartitions(), MAX_MOMENT_PARTITIONS))  # 0 when Delta skips every file
    parts = sorted(
        rows_of.select("features").coalesce(partitions).mapInPandas(_partial_moments, MOMENTS_SCHEMA).collect(),
        key=lambda part: part.part,
    )
    total = NO_ROWS
    for part in parts:  # partition order: the same additions, in the same order, every run
        sums = np.frombuffer(part.sums, dtype=np.float64)
        total = total + Moments(part.rows, sums, np.frombuffer(part.gram, dtype=np.float64).reshape(len(sums), len(sums)))
    return total, len(parts)


def spectrum(covariance_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explained-variance ratios (descending) and their unit eigenvectors (columns)."""
    values, vectors = np.linalg.eigh(covariance_matrix)
    values = np.clip(values[::-1], 0.0, None)
    if values.sum() <= 0:
        raise ValueError("Every feature is constant over the Training images: there is nothing to reduce.")
    return values / values.sum(), vectors[:, ::-1]
