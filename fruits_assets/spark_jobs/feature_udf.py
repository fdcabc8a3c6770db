"""The pandas UDF of the featurize job, and what its Python workers keep between batches.

A worker unpickles the UDF and imports this module by reference: it imports only the
network, image and measurement modules, not the package of jobs (with matplotlib and
pyspark.ml: 0.57-0.67 s per worker against 0.02 s; docs/benchmarks.md). Each worker builds its runner
from the broadcast bytes once (cached here) and reuses it for every batch of every task;
a dict accumulator reports how many times each worker built it.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Iterator

import numpy as np
import pandas as pd
from pyspark.accumulators import AccumulatorParam
from pyspark.sql import functions as F

from . import measurements, mobilenet
from .images import decode

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


def _embed(runner, contents: pd.Series, size: int, batch_size: int) -> np.ndarray:
    features = np.empty((len(contents), mobilenet.FEATURES), dtype=np.float32)
    for start in range(0, len(contents), batch_size):
        chunk = contents.iloc[start : start + batch_size]
        features[start : start + len(chunk)] = runner(np.stack([decode(c, size) for c in chunk]))
    return features


def make_udf(spec: mobilenet.ModelSpec, broadcast, threads: int, builds, tallies):
    """features(label, content, known features): the known features where there are
    some, else the network's. ``tallies`` sums each class's ``measurements.VectorTally``."""
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
            tallies.add(measurements.tally(labels, values, todo))
            yield pd.Series([v.tolist() for v in values])  # lists: what Spark makes of each row anyway

    return features
