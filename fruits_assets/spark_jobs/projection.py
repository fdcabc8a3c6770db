"""What the Python workers run to project features on a PCA model's components: the
coordinates, and the CSV line of each image.

A worker unpickles these functions and imports this module by reference: numpy and
pyarrow only, not ``pyspark.ml`` (0.24-0.33 s per worker). Coordinates are products of
PROJECTION_BLOCK rows on one BLAS thread, so an image's coordinates are the same bits
whichever images share its batch (with two threads, or another block shape, they were
not). CSV lines are formatted here by Arrow, vectorized, while the coordinates are at
hand: Spark's CSV writer formatted the floats one by one in the JVM, and took 2.1-3.0 s
for 50,500 images against 0.7-0.8 s for writing the lines (docs/benchmarks.md).

A worker can also be handed the features table's Parquet files whole, as bytes, and decode
them with pyarrow (``parquet_csv_projector``): Spark hands a file over as one binary value,
where it converts every row's 1,280 floats into Arrow one at a time (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

PROJECTION_BLOCK = 128  # rows per matrix product; the last block of a batch is padded with zeros
KEY_COLUMNS = ("path", "label", "split")
LINE = "csv_line"  # the column of csv_rows that holds each image's line of the CSV
CSV_ROWS_SCHEMA = ", ".join([*(f"{c} string" for c in KEY_COLUMNS), "pc_1 float", "pc_2 float", f"{LINE} string"])
FILE_BATCH = 4096  # rows of a Parquet file decoded at a time

Batches = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


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


def csv_lines(keys: list[pa.Array], coordinates: np.ndarray) -> pa.Array:
    """One RFC 4180 line per row (no line break): the ``keys`` (strings) quoted, a quote
    inside doubled, then the float32 ``coordinates`` in their shortest form that reads
    back as the same float32 (at most 9 significant digits)."""
    rows, k = coordinates.shape
    numbers = pc.cast(pa.array(coordinates.astype(np.float32, copy=False).ravel()), pa.string())
    offsets = pa.array(np.arange(0, rows * k + 1, k, dtype=np.int32))
    quoted = [pc.binary_join_element_wise('"', pc.replace_substring(key, '"', '""'), '"', "") for key in keys]
    return pc.binary_join_element_wise(*quoted, pc.binary_join(pa.ListArray.from_arrays(offsets, numbers), ","), ",")


def projector(components: np.ndarray, columns: list[str]) -> Batches:
    """A ``mapInArrow`` function: the key columns and float32 ``columns`` pc_1..pc_k."""
    def project(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            coordinates = project_rows(batch.column("features"), components).astype(np.float32)
            yield pa.RecordBatch.from_arrays(
                [*(batch.column(c) for c in KEY_COLUMNS), *(pa.array(coordinates[:, j]) for j in range(coordinates.shape[1]))],
                names=columns,
            )

    return project


def _csv_batch(keys: list[pa.Array], features: pa.ListArray, components: np.ndarray) -> pa.RecordBatch:
    """The keys, pc_1 and pc_2 (pc_1 again when k = 1) as float32, and LINE."""
    coordinates = project_rows(features, components).astype(np.float32)
    second = coordinates[:, min(1, coordinates.shape[1] - 1)]
    return pa.RecordBatch.from_arrays(
        [*keys, pa.array(coordinates[:, 0]), pa.array(second), csv_lines(keys, coordinates)],
        names=[*KEY_COLUMNS, "pc_1", "pc_2", LINE],
    )


def csv_projector(components: np.ndarray) -> Batches:
    """A ``mapInArrow`` function from rows with the key columns and ``features`` to rows of
    CSV_ROWS_SCHEMA."""
    def project(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield _csv_batch([batch.column(c) for c in KEY_COLUMNS], batch.column("features"), components)

    return project


def parquet_csv_projector(components: np.ndarray, labels: dict[str, str]) -> Batches:
    """A ``mapInArrow`` function from rows (path, content) of Spark's ``binaryFile`` reader,
    each a Parquet data file of the features table, to rows of CSV_ROWS_SCHEMA. ``labels``
    gives each file's class: a partition value, held by the table's log, not the file."""
    def project(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for path, content in zip(batch.column("path").to_pylist(), batch.column("content")):
                label = labels[path]
                data = pq.ParquetFile(pa.BufferReader(content.as_buffer()))
                for rows in data.iter_batches(FILE_BATCH, columns=["path", "split", "features"]):
                    keys = [rows.column("path"), pa.array([label] * rows.num_rows, pa.string()), rows.column("split")]
                    yield _csv_batch(keys, rows.column("features"), components)

    return project
