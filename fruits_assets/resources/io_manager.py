"""IO manager of the lake: loads any asset back for Python code, by the storage its
definition declares (``STORAGE`` in its metadata).

Assets return ``MaterializeResult``: their jobs write the data themselves, so there is
nothing to store here. A Delta table loads as a pandas DataFrame through delta-rs (no
JVM), or as a Spark DataFrame when the input asks for one; the files of unpartitioned
assets are found at the ``dagster/uri`` of their latest materialization (Dagster's
record of the current version).
"""

import io
from collections import defaultdict
from contextlib import closing

import joblib
import pandas as pd
import pyarrow.parquet as pq
from dagster import AssetKey, ConfigurableIOManager, InputContext, OutputContext, ResourceDependency
from pyspark.sql import DataFrame as SparkDataFrame

from ..spark_jobs.tables import PARTITION
from .lake import LakeResource
from .spark import LocalSpark

STORAGE = "fruits/storage"  # definition metadata: how an asset is stored, one of:
DELTA = "delta table"  # tables/<asset name>, partitioned by class
CSV_MATRIX = "csv matrix"  # a CSV of string key columns (path, label, split) and float columns
PCA_MODEL = "pyspark.ml PCAModel"
PICKLE = "joblib pickle"  # a model object this project saved (joblib: trust the lake only)
BYTES = "file"
KEY_COLUMNS = ("path", "label", "split")


def read_matrix(store, key: str) -> pd.DataFrame:
    """A CSV matrix, streamed: key columns as strings, the others as float32 (the precision
    of the image features they come from, and that the file holds)."""
    with closing(store.open(key)) as stream:
        return pd.read_csv(stream, dtype=defaultdict(lambda: "float32", **{c: "str" for c in KEY_COLUMNS}))


class LakeIOManager(ConfigurableIOManager):
    lake: ResourceDependency[LakeResource]
    spark: ResourceDependency[LocalSpark]

    def handle_output(self, context: OutputContext, obj) -> None:
        if obj is not None:
            raise TypeError(
                f"{context.asset_key.to_user_string()} returned a value: assets of this lake write their own "
                "data and return MaterializeResult."
            )

    def load_input(self, context: InputContext):
        upstream = context.upstream_output
        key = upstream.asset_key if upstream else context.asset_key
        storage = (upstream.definition_metadata if upstream else {}).get(STORAGE)
        if storage == DELTA:
            classes = list(context.asset_partition_keys) if context.has_asset_partitions else None
            return self._table(key, classes, spark=context.dagster_type.typing_type is SparkDataFrame)
        data_key = self._current_key(context, key)
        store = self.lake.store()
        if storage == CSV_MATRIX:
            return read_matrix(store, data_key)
        if storage == PCA_MODEL:
            from ..spark_jobs.pca_model import FittedPCA, data_part  # pyspark.ml: only for this asset

            part = data_part(store.list_files(f"{data_key}/data"))
            return FittedPCA.from_data(pq.read_table(io.BytesIO(store.read_bytes(part))))
        if storage == PICKLE:
            return joblib.load(io.BytesIO(store.read_bytes(data_key)))
        if storage == BYTES:
            return store.read_bytes(data_key)
        raise KeyError(f"{key.to_user_string()} declares no storage the lake IO manager knows ({STORAGE}: {storage!r}).")

    def _table(self, key: AssetKey, classes: list[str] | None, spark: bool):
        if spark:
            session = self.spark.session(with_s3a=self.lake.is_s3)
            frame = session.read.format("delta").load(self.lake.spark_uri(self.lake.table_key(key), local=True))
            return frame if classes is None else frame.where(frame[PARTITION].isin(classes))
        found = self.lake.delta_table(key)
        if found is None:
            raise LookupError(f"{key.to_user_string()} has not been materialized yet.")
        return found.to_pandas(filters=[(PARTITION, "in", classes)] if classes else None)

    def _current_key(self, context: InputContext, key: AssetKey) -> str:
        """The lake key of the asset's current version: its latest materialization's URI."""
        event = context.instance.get_latest_materialization_event(key)
        if event is None or "dagster/uri" not in event.asset_materialization.metadata:
            raise LookupError(f"{key.to_user_string()} has not been materialized yet.")
        return self.lake.key_of(event.asset_materialization.metadata["dagster/uri"].value)
