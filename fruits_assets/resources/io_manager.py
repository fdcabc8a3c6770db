"""IO manager of the lake.

Assets return ``MaterializeResult``: their jobs write and commit the data
themselves (in the layout of ``spark_jobs.layout``), and each version's manifest is
its one record, so there is nothing to store here. It loads any asset back for
Python code: a Spark DataFrame for the image tables, a ``FittedPCA`` for the model,
a pandas DataFrame for the CSV matrix (float32 coordinates), a ``FruitClassifier`` for the classifier,
and the converted network's bytes for ``mobilenet_v2``.
"""


from collections import defaultdict
from contextlib import closing

import pandas as pd
from dagster import ConfigurableIOManager, InputContext, OutputContext, ResourceDependency

from ..classifier import MODEL_FILE, FruitClassifier
from ..spark_jobs.pca import CSV_NAME, FittedPCA
from ..spark_jobs.uris import to_spark_uri
from ..spark_jobs.versioned import VersionedLake
from .lake import LakeResource
from .model import MobileNetResource
from .spark import LocalSpark

SPARK_TABLES = ("raw_images", "rejected_images", "image_features")
# pca_matrix loads with float32 coordinates, the precision of the image features they
# come from: half the memory of float64 (the CSV itself keeps every digit).
MATRIX_DTYPES = defaultdict(lambda: "float32", path="str", label="str", split="str")


class LakeIOManager(ConfigurableIOManager):
    lake: ResourceDependency[LakeResource]
    spark: ResourceDependency[LocalSpark]
    model: ResourceDependency[MobileNetResource]

    def handle_output(self, context: OutputContext, obj) -> None:
        if obj is not None:
            raise TypeError(
                f"{context.asset_key.to_user_string()} returned a value: assets of this lake write their own "
                "data and return MaterializeResult."
            )

    def load_input(self, context: InputContext):
        asset = context.upstream_output.asset_key.path[-1] if context.upstream_output else context.asset_key.path[-1]
        if asset == "pca_matrix":
            with closing(self.lake.store().open(f"{self._current(asset)}/{CSV_NAME}")) as csv:
                return pd.read_csv(csv, dtype=MATRIX_DTYPES)
        if asset == "mobilenet_v2":
            return self.model.converted(self.lake)
        if asset == "fruit_classifier":
            return FruitClassifier.from_bytes(self.lake.store().read_bytes(f"{self._current(asset)}/{MODEL_FILE}"))
        # Read in this process, so through S3A even where the jobs' Spark (EMR) says s3://
        lake = VersionedLake(self.spark.session(with_s3a=self.lake.is_s3), to_spark_uri(self.lake.root, "s3a"))
        if asset == "pca_model":
            current = lake.current("pca_model")
            if current is None:
                raise LookupError("pca_model has not been materialized yet.")
            return FittedPCA.load(lake.spark, current)
        if asset in SPARK_TABLES:
            keys = context.asset_partition_keys if context.has_asset_partitions else None
            return lake.read_parquet(asset, list(keys) if keys else lake.committed_partitions(asset))
        raise KeyError(f"The lake IO manager does not know asset {asset!r}.")

    def _current(self, asset: str) -> str:
        """Key of the current committed version of an unpartitioned asset."""
        current = self.lake.current_version(asset)
        if current is None:
            raise LookupError(f"{asset} has not been materialized yet.")
        return current
