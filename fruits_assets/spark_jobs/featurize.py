"""Featurize raw images with MobileNetV2 in a scalar-iterator pandas UDF.

The network is built once on the driver and shipped with ONE
``SparkContext.broadcast``; each Python worker builds its runner once (cached in
this module, which workers import by reference) and reuses it for every batch of
every task. A dict accumulator reports how many times each worker built it.
"""

from __future__ import annotations

import math
import os
import socket
import time
import uuid
from typing import Iterator

import numpy as np
import pandas as pd
from pyspark.accumulators import AccumulatorParam
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, FloatType, StringType, StructField, StructType

from . import class_runs, mobilenet
from .images import decode
from .layout import MODEL_CACHE
from .uris import join
from .versioned import CLASS_INDEX, VersionedLake, by_class

ROWS_PER_TASK = 4000
FEATURES_SCHEMA = StructType(
    [StructField(name, StringType()) for name in ("image_id", "path", "split", "label")]
    + [StructField("features", ArrayType(FloatType()))]
)
# Features never repeat: trying a dictionary for them is wasted CPU.
NO_FLOAT_DICTIONARY = {"parquet.enable.dictionary#features.list.element": "false"}
_RUNNER: dict = {}


class CountsByWorker(AccumulatorParam):
    """Accumulates {worker id: count}."""

    def zero(self, value):
        return {}

    def addInPlace(self, a, b):
        for key, count in b.items():
            a[key] = a.get(key, 0) + count
        return a


def worker_runner(key: str, spec: mobilenet.ModelSpec, broadcast, threads: int, builds):
    """The runner of this Python worker, built on first use from the broadcast bytes."""
    if _RUNNER.get("key") != key:
        _RUNNER.clear()
        _RUNNER["runner"] = mobilenet.runner(spec, broadcast.value, threads)
        _RUNNER["key"] = key
        builds.add({f"{socket.gethostname()}:{os.getpid()}": 1})
    return _RUNNER["runner"]


def _embed(runner, contents: pd.Series, size: int, batch_size: int) -> pd.Series:
    features = np.empty((len(contents), mobilenet.FEATURES), dtype=np.float32)
    for start in range(0, len(contents), batch_size):
        chunk = contents.iloc[start : start + batch_size]
        features[start : start + len(chunk)] = runner(np.stack([decode(c, size) for c in chunk]))
    return pd.Series(features.tolist())  # Spark turns each row into a list anyway: lists are cheaper


def make_udf(spec: mobilenet.ModelSpec, broadcast, threads: int, builds):
    key = uuid.uuid4().hex

    @F.pandas_udf("array<float>")
    def features(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        runner = worker_runner(key, spec, broadcast, threads, builds)
        for contents in batches:
            yield _embed(runner, contents, spec.image_size, spec.batch_size)

    return features


def bundle_key(spec: mobilenet.ModelSpec, weights: str) -> str:
    """Where the converted network of ``spec`` with ``weights`` lives, relative to the lake root."""
    return f"{MODEL_CACHE}/{mobilenet.cache_key(spec, weights)}.bin"


def load_bundle(lake: VersionedLake, spec: mobilenet.ModelSpec) -> tuple[bytes, str]:
    """Model bytes for ``spec`` from the lake's model cache, building them if absent."""
    for weights in mobilenet.cached_weights(spec.weights):
        uri = join(lake.root, bundle_key(spec, weights))
        if lake.fs.exists(uri):
            return lake.fs.read_bytes(uri), weights
    if mobilenet.is_converted(spec.weights):
        raise FileNotFoundError(
            f"The converted network {spec.weights} is not in the lake's model cache {join(lake.root, MODEL_CACHE)}."
        )
    payload, weights_used = mobilenet.bundle(spec)
    lake.fs.write_bytes(join(lake.root, bundle_key(spec, weights_used)), payload)
    return payload, weights_used


def _raw_in_runs(spark: SparkSession, current: dict, classes: list[str], most_tasks: int):
    """(raw images, their per-class counts, Spark tasks): at most ``most_tasks``
    partitions of consecutive classes (see ``class_runs``), tagged by ``by_class``."""
    runs = class_runs.plan([(c, current[c][1]) for c in classes], most_tasks)
    uris = {c: uri for c, (uri, _) in current.items()}
    raw = class_runs.read_runs(spark, uris, runs) if runs else spark.read.parquet(*uris.values())
    tagged, counts = by_class(raw.select("image_id", "path", "split", "label", "content"), classes)
    return tagged, counts, max(1, len(runs))


def featurize(
    spark: SparkSession,
    lake_root: str,
    classes: list[str],
    model: dict,
) -> dict:
    """Compute features for ``classes``; commit one version per class; return metrics."""
    spec = mobilenet.ModelSpec(**model).validate()
    lake = VersionedLake(spark, lake_root)
    current = lake.current_rows("raw_images", classes)
    total = sum(rows for _, rows in current.values())

    started = time.perf_counter()
    payload, weights_used = load_bundle(lake, spec)
    model_seconds = time.perf_counter() - started
    sc = spark.sparkContext
    broadcast = sc.broadcast(payload)
    builds = sc.accumulator({}, CountsByWorker())
    threads = spec.threads or int(sc.getConf().get("spark.task.cpus", "1"))
    udf = make_udf(spec, broadcast, threads, builds)

    slots = sc.defaultParallelism
    most_tasks = slots * max(1, math.ceil(total / (slots * ROWS_PER_TASK)))
    started = time.perf_counter()
    raw, counts, tasks = _raw_in_runs(spark, current, classes, most_tasks)
    features = raw.select(
        "image_id", "path", "split", "label", CLASS_INDEX, udf("content").alias("features")
    )
    per_class = lake.write_by_class(
        features,
        "image_features",
        classes,
        FEATURES_SCHEMA,
        {"weights": weights_used, "backend": spec.backend},
        counts,
        NO_FLOAT_DICTIONARY,
    )
    seconds = time.perf_counter() - started
    broadcast.unpersist()
    return {
        "rows": total,
        "seconds": round(seconds, 3),
        "images_per_second": round(total / seconds, 2) if seconds else None,
        "model_seconds": round(model_seconds, 3),
        "weights": weights_used,
        "backend": spec.backend,
        "threads_per_worker": threads,
        "tasks": tasks,
        "model_builds_by_worker": dict(builds.value),
        "classes": per_class,
    }
