"""The covariance of the features and its spectrum.

Each Spark task sums its partition's features into float64 moments (row count, sum of
x, X^T X) with numpy, in parallel; the driver adds the partial sums in partition order,
never in task-completion order, so the covariance, the model and the CSV are the same
bits on every run. The 1280x1280 covariance is decomposed with numpy on the driver:
``pyspark.ml.feature.PCA.fit`` (pure-Java LAPACK in a pip-installed Spark) returned, for
the very same covariance, the right spectrum on some calls and a near-flat wrong one
(first component 0.7 % instead of 67 %) on others (``test_every_fit_finds_the_spectrum_numpy_finds``).
"""

from __future__ import annotations

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


def covariance(rows_of: DataFrame) -> tuple[int, np.ndarray, int]:
    """(rows, covariance, partitions summed in parallel) of the ``features`` column."""
    partitions = max(1, min(rows_of.rdd.getNumPartitions(), MAX_MOMENT_PARTITIONS))  # 0 when Delta skips every file
    parts = sorted(
        rows_of.select("features").coalesce(partitions).mapInPandas(_partial_moments, MOMENTS_SCHEMA).collect(),
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


def spectrum(covariance_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explained-variance ratios (descending) and their unit eigenvectors (columns)."""
    values, vectors = np.linalg.eigh(covariance_matrix)
    values = np.clip(values[::-1], 0.0, None)
    if values.sum() <= 0:
        raise ValueError("Every feature is constant over the Training images: there is nothing to reduce.")
    return values / values.sum(), vectors[:, ::-1]
