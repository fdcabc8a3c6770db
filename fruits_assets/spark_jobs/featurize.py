"""Featurize raw images with MobileNetV2 in a scalar-iterator pandas UDF.

The network is built once on the driver and shipped with ONE
``SparkContext.broadcast``; each Python worker builds its runner once (cached in
this module, which workers import by reference) and reuses it for every batch of
every task. A dict accumulator reports how many times each worker built it.

Work is only done where it is needed: a class whose raw version and model are those
its current features were computed from is left as it is, and an image whose content
id already has features from the same model reuses them (another accumulator counts,
per class, the images inferred and reused). Classes are written and committed a group
at a time, so a failure keeps the groups committed before it.
"""

from __future__ import annotations

import math
import os
import socket
import time
import uuid
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd
from pyspark.accumulators import AccumulatorParam
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, FloatType, StringType, StructField, StructType

from . import class_runs, mobilenet, progress
from .contracts import FeaturizedClass, FeaturizeParams, FeaturizeResult
from .images import decode
from .layout import MODEL_CACHE
from .uris import join
from .versioned import VersionedLake

ROWS_PER_TASK = 4000
FEATURES_SCHEMA = StructType(
    [StructField(name, StringType()) for name in ("image_id", "path", "split", "label")]
    + [StructField("features", ArrayType(FloatType()))]
)
# Features never repeat: trying a dictionary for them is wasted CPU.
NO_FLOAT_DICTIONARY = {"parquet.enable.dictionary#features.list.element": "false"}
_RUNNER: dict = {}


class CountsByWorker(AccumulatorParam):
    """Accumulates {key: count} (keys: worker ids, or class and what was done)."""

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


def _embed(runner, contents: pd.Series, size: int, batch_size: int) -> np.ndarray:
    features = np.empty((len(contents), mobilenet.FEATURES), dtype=np.float32)
    for start in range(0, len(contents), batch_size):
        chunk = contents.iloc[start : start + batch_size]
        features[start : start + len(chunk)] = runner(np.stack([decode(c, size) for c in chunk]))
    return features


def make_udf(spec: mobilenet.ModelSpec, broadcast, threads: int, builds, work):
    """features(label, content, known features): the known features where there are
    some, else the network's. ``work`` counts, per class, images inferred and reused."""
    key = uuid.uuid4().hex

    @F.pandas_udf("array<float>")
    def features(batches: Iterator[tuple[pd.Series, pd.Series, pd.Series]]) -> Iterator[pd.Series]:
        runner = None
        for labels, contents, known in batches:
            todo = known.isna().to_numpy()
            values = list(known)
            if todo.any():
                runner = runner or worker_runner(key, spec, broadcast, threads, builds)
                computed = _embed(runner, contents[todo], spec.image_size, spec.batch_size)
                for row, vector in zip(np.flatnonzero(todo), computed):
                    values[row] = vector
            counted: dict[str, int] = {}
            for label, inferred in zip(labels, todo):
                name = f"{label}\t{'inferred' if inferred else 'reused'}"
                counted[name] = counted.get(name, 0) + 1
            work.add(counted)
            yield pd.Series([v.tolist() for v in values])  # lists: what Spark makes of each row anyway

    return features


def bundle_key(spec: mobilenet.ModelSpec, weights: str) -> str:
    """Where the converted network of ``spec`` with ``weights`` lives, relative to the lake root."""
    return f"{MODEL_CACHE}/{mobilenet.cache_key(spec, weights)}.bin"


def cached_network(spec: mobilenet.ModelSpec, exists: Callable[[str], bool], resolved: Iterable[str] = ()) -> str | None:
    """The weights name under which the lake's model cache holds ``spec``'s network, or
    None. ``exists`` tells whether a key (relative to the lake root) is there; ``resolved``
    adds names a conversion already resolved to (``auto`` may have fallen back to random)."""
    return next((w for w in (*mobilenet.cached_weights(spec.weights), *resolved) if exists(bundle_key(spec, w))), None)


def load_bundle(lake: VersionedLake, spec: mobilenet.ModelSpec) -> tuple[bytes, str]:
    """Model bytes for ``spec`` from the lake's model cache, building them if absent."""
    weights = cached_network(spec, lambda key: lake.fs.exists(join(lake.root, key)))
    if weights is not None:
        return lake.fs.read_bytes(join(lake.root, bundle_key(spec, weights))), weights
    if mobilenet.is_converted(spec.weights):
        raise FileNotFoundError(
            f"The converted network {spec.weights} is not in the lake's model cache {join(lake.root, MODEL_CACHE)}."
        )
    payload, weights_used = mobilenet.bundle(spec)
    lake.fs.write_bytes(join(lake.root, bundle_key(spec, weights_used)), payload)
    return payload, weights_used


def _raw_in_runs(spark: SparkSession, current: dict, classes: list[str], rows: int) -> tuple[DataFrame, int]:
    """(raw images of ``classes``, Spark tasks): partitions of consecutive classes (see
    ``class_runs``) of about ROWS_PER_TASK rows, a multiple of the slots."""
    slots = spark.sparkContext.defaultParallelism
    runs = class_runs.plan([(c, current[c][1]) for c in classes], slots * max(1, math.ceil(rows / (slots * ROWS_PER_TASK))))
    uris = {c: current[c][0] for c in classes}
    raw = class_runs.read_runs(spark, uris, runs) if runs else spark.read.parquet(*uris.values())
    return raw.select("image_id", "path", "split", "label", "content"), max(1, len(runs))


def chunks(classes: list[str], rows: dict[str, int], most_rows: int) -> list[list[str]]:
    """Consecutive groups of classes of at most ``most_rows`` rows (a bigger class is a
    group of its own): each group is written and committed before the next starts."""
    groups: list[list[str]] = []
    size = 0
    for cls in classes:
        if not groups or size + rows[cls] > most_rows:
            groups.append([])
            size = 0
        groups[-1].append(cls)
        size += rows[cls]
    return groups


def _with_known_features(spark: SparkSession, raw: DataFrame, reusable: list[str]) -> DataFrame:
    """``raw`` plus ``_known``: the features the ``reusable`` feature versions (URIs) hold
    for the same image id (null where there are none)."""
    if not reusable:
        return raw.withColumn("_known", F.lit(None).cast("array<float>"))
    known = spark.read.parquet(*reusable).select("image_id", F.col("features").alias("_known"))
    return raw.join(known.dropDuplicates(["image_id"]), "image_id", "left")


def featurize(spark: SparkSession, params: FeaturizeParams) -> FeaturizeResult:
    """Compute features for the classes whose raw images or model changed (all with
    ``force``), reusing the features of images already computed by the same model;
    commit one version per class, a group of classes at a time."""
    classes, force, run_id = params.classes, params.force, params.run_id
    spec = params.model.validate()
    lake = VersionedLake(spark, params.lake_root)
    current = lake.current_rows("raw_images", classes)
    started = time.perf_counter()
    payload, weights_used = load_bundle(lake, spec)
    model_seconds = time.perf_counter() - started
    model_id = mobilenet.cache_key(spec, weights_used)
    found = {c: lake.current_manifest("image_features", c) for c in classes}
    previous = {c: {**found[c][1], "uri": found[c][0]} if found[c] else {} for c in classes}
    same_model = {c: not force and previous[c].get("model") == model_id for c in classes}
    unchanged = [c for c in classes if same_model[c] and previous[c].get("raw_version") == current[c][0]]
    todo = [c for c in classes if c not in unchanged]
    per_class = {c: _featurized(previous[c], 0, 0, unchanged=True) for c in unchanged}

    started = time.perf_counter()
    sc = spark.sparkContext
    broadcast = sc.broadcast(payload) if todo else None
    builds = sc.accumulator({}, CountsByWorker())
    work = sc.accumulator({}, CountsByWorker())
    threads = spec.threads or int(sc.getConf().get("spark.task.cpus", "1"))
    udf = make_udf(spec, broadcast, threads, builds, work)
    manifest = {"weights": weights_used, "backend": spec.backend, "model": model_id, "run_id": run_id}
    tasks, rows_done, rows_to_do = 0, 0, sum(current[c][1] for c in todo)
    for group in chunks(todo, {c: current[c][1] for c in todo}, params.chunk_rows):
        rows = sum(current[c][1] for c in group)
        raw, group_tasks = _raw_in_runs(spark, current, group, rows)
        raw = _with_known_features(spark, raw, [previous[c]["uri"] for c in group if same_model[c]])
        features = raw.select(
            "image_id", "path", "split", "label", udf("label", "content", "_known").alias("features")
        )
        with progress.tracking(spark, "image_features", rows, done_before=rows_done, of=rows_to_do):
            written = lake.write_by_class(
                features, "image_features", group, FEATURES_SCHEMA, manifest, NO_FLOAT_DICTIONARY,
                per_class={c: {"raw_version": current[c][0]} for c in group},
            )
        rows_done += rows
        done = dict(work.value)
        for cls in group:
            per_class[cls] = _featurized(
                written[cls], done.get(f"{cls}\tinferred", 0), done.get(f"{cls}\treused", 0), unchanged=False
            )
        tasks += group_tasks
    seconds = time.perf_counter() - started
    if broadcast is not None:
        broadcast.unpersist()
    inferred = sum(m.inferred for m in per_class.values())
    return FeaturizeResult(
        rows=sum(rows for _, rows in current.values()),
        inferred=inferred,
        reused=sum(m.reused for m in per_class.values()),
        unchanged_classes=unchanged,
        seconds=round(seconds, 3),
        images_per_second=round(inferred / seconds, 2) if seconds and inferred else None,
        model_seconds=round(model_seconds, 3),
        weights=weights_used,
        backend=spec.backend,
        model=model_id,
        threads_per_worker=threads,
        tasks=tasks,
        model_builds_by_worker=dict(builds.value),
        classes={c: per_class[c] for c in classes},
    )


def _featurized(manifest: dict, inferred: int, reused: int, unchanged: bool) -> FeaturizedClass:
    """What featurize reports for a class, from its manifest (with its URI)."""
    return FeaturizedClass(uri=manifest["uri"], rows=manifest["rows"], inferred=inferred, reused=reused, unchanged=unchanged)
