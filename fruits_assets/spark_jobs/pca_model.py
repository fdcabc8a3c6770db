"""A fitted PCA: its components and explained variance, saved as a ``pyspark.ml``
``PCAModel`` (``PCAModel.load`` reads it), and the projection that gives the CSV's
``pc_1..pc_k`` columns.

Coordinates are the features times the components, computed with numpy in the Python
workers (``mapInArrow``, ``projection``) rather than by ``PCAModel.transform``: Spark's
per-row conversion to ML vectors and its Java matrix product took twice as long, for the
same values to within rounding (docs/benchmarks.md). The coordinates are float32, the
precision of the features they come from and what the matrix's readers load: the CSV
holds 9 significant digits per value instead of 17 (84 MiB instead of 148 MiB at 50,500
images; docs/benchmarks.md).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.ml.linalg import DenseMatrix, DenseVector, MatrixUDT, VectorUDT
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructField, StructType

from .hadoop_fs import HadoopFS
from .mobilenet import FEATURES
from .projection import CSV_ROWS_SCHEMA, KEY_COLUMNS, csv_projector, parquet_csv_projector, projector
from .uris import join

MODEL_UID = "PCA_fruits_assets"
_DATA_SCHEMA = StructType([StructField("pc", MatrixUDT()), StructField("explainedVariance", VectorUDT())])


def check_settings(k: int | None, variance_target: float | None) -> None:
    """Raise a ValueError that says what to fix, before any Spark work."""
    if k is None and variance_target is None:
        raise ValueError(f"Set either k (1..{FEATURES}) or variance_target (0 < t <= 1) for the PCA.")
    if k is not None and not (isinstance(k, int) and 1 <= k <= FEATURES):
        raise ValueError(f"PCA k must be an integer within 1..{FEATURES}, got {k!r}.")
    if variance_target is not None and not 0 < variance_target <= 1:
        raise ValueError(f"PCA variance_target must be within (0, 1], got {variance_target!r}.")


def fixed_signs(components: np.ndarray) -> np.ndarray:
    """``components`` (features x k) with each column's largest |loading| positive, so a
    refit of the same data gives the same coordinates."""
    biggest = components[np.abs(components).argmax(axis=0), np.arange(components.shape[1])]
    return components * np.where(biggest >= 0, 1.0, -1.0)


def data_part(files: list[str]) -> str:
    """The Parquet file among the files of a saved model's ``data/`` folder."""
    (part,) = [f for f in files if f.endswith(".parquet")]
    return part


@dataclass(frozen=True)
class FittedPCA:
    """Components (features x k, unit columns) and their explained-variance ratios."""

    components: np.ndarray
    explained_variance: np.ndarray

    @property
    def k(self) -> int:
        return self.components.shape[1]

    @property
    def columns(self) -> list[str]:
        return [*KEY_COLUMNS, *(f"pc_{i + 1}" for i in range(self.k))]

    def transform(self, features: DataFrame) -> DataFrame:
        """path, label, split and pc_1..pc_k (float) of each row of ``features``."""
        schema = ", ".join([*(f"{c} string" for c in KEY_COLUMNS), *(f"{c} float" for c in self.columns[len(KEY_COLUMNS):])])
        return features.select(*KEY_COLUMNS, "features").mapInArrow(projector(self.components, self.columns), schema)

    def csv_rows(self, features: DataFrame) -> DataFrame:
        """path, label, split, pc_1 and pc_2 (pc_1 again when k = 1) of each row of
        ``features``, and its line of the CSV (``projection.csv_lines``) in column LINE."""
        return features.select(*KEY_COLUMNS, "features").mapInArrow(csv_projector(self.components), CSV_ROWS_SCHEMA)

    def csv_rows_of_files(self, spark: SparkSession, files: dict[str, str]) -> DataFrame:
        """What ``csv_rows`` gives, for the rows of the features table's Parquet ``files``
        ({file: its class}, ``tables.data_files``), read whole by Spark and decoded by the workers."""
        if not files:
            return spark.createDataFrame([], CSV_ROWS_SCHEMA)
        contents = spark.read.format("binaryFile").load(list(files)).select("path", "content")
        return contents.mapInArrow(parquet_csv_projector(self.components, files), CSV_ROWS_SCHEMA)

    def save(self, spark: SparkSession, uri: str) -> None:
        """Write the model in Spark ML's own layout (``metadata/`` and ``data/``), replacing
        what ``uri`` held: ``pyspark.ml.feature.PCAModel.load(uri)`` reads it."""
        features, k = self.components.shape
        metadata = {
            "class": "org.apache.spark.ml.feature.PCAModel", "timestamp": int(time.time() * 1000),
            "sparkVersion": spark.version, "uid": MODEL_UID,
            "paramMap": {"k": k, "inputCol": "features", "outputCol": "pca"},
            "defaultParamMap": {"outputCol": f"{MODEL_UID}__output"},
        }
        pc = DenseMatrix(features, k, self.components.ravel(order="F").tolist())
        data = spark.createDataFrame([(pc, DenseVector(self.explained_variance.tolist()))], _DATA_SCHEMA)
        data.coalesce(1).write.mode("overwrite").parquet(join(uri, "data"))
        spark.createDataFrame([(json.dumps(metadata),)], "value string").coalesce(1).write.mode("overwrite").text(
            join(uri, "metadata")
        )

    @classmethod
    def load(cls, spark: SparkSession, uri: str) -> "FittedPCA":
        """The model saved at ``uri``: its ``data/`` Parquet file, read through the session's
        file system and decoded here (``PCAModel.load`` reads the same values in 2 Spark jobs)."""
        fs = HadoopFS(spark)
        part = data_part([f.uri for f in fs.list_files(join(uri, "data"))])
        return cls.from_data(pq.read_table(pa.BufferReader(fs.read_bytes(part))))

    @classmethod
    def from_data(cls, data: pa.Table) -> "FittedPCA":
        """The model from the rows of its ``data/`` Parquet, read without Spark."""
        row = data.to_pylist()[0]
        pc, explained = row["pc"], row["explainedVariance"]
        order = "C" if pc["isTransposed"] else "F"
        components = np.asarray(pc["values"]).reshape((pc["numRows"], pc["numCols"]), order=order)
        return cls(components, np.asarray(explained["values"]))

