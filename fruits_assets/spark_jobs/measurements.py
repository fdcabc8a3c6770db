"""What the asset checks need to know of the features of each class: rows, distinct image
ids, bad vectors, and whether every image of the class got the same vector.

A job that writes features tallies the vectors in its UDF as they go by (``tally``, summed
by an accumulator), then counts rows and ids on the table's new version, reading only the
id column. A class that is only measured is read back whole (``of_features``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from pyspark.accumulators import AccumulatorParam
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from .mobilenet import FEATURES
from .tables import PARTITION

# Built-in array functions only: Spark compiles them, while a higher-order function
# (forall, aggregate) is interpreted element by element, boxing each of the 1280 values.
_NOT_FINITE = (float("nan"), float("inf"), float("-inf"))


@dataclass(frozen=True)
class FeatureMeasures:
    rows: int
    distinct_ids: int
    bad_vectors: int  # null, not FEATURES long, or holding a null, a NaN or an infinity
    all_vectors_equal: bool


@dataclass(frozen=True)
class VectorTally:
    """What a UDF saw of one class's vectors: how many it inferred and reused, how many were
    bad, and the smallest and largest vector digest (equal when every vector is the same)."""

    inferred: int = 0
    reused: int = 0
    bad: int = 0
    low: int | None = None
    high: int | None = None

    def __add__(self, other: VectorTally) -> VectorTally:
        digests = [d for d in (self.low, self.high, other.low, other.high) if d is not None]
        return VectorTally(self.inferred + other.inferred, self.reused + other.reused, self.bad + other.bad,
                           min(digests, default=None), max(digests, default=None))

    def measures(self, rows: int, distinct_ids: int) -> FeatureMeasures:
        return FeatureMeasures(rows, distinct_ids, self.bad, rows > 0 and self.low == self.high)


class TallyByClass(AccumulatorParam):
    """Accumulates {class: VectorTally}."""

    def zero(self, value):
        return {}

    def addInPlace(self, a, b):
        for label, tally in b.items():
            a[label] = a[label] + tally if label in a else tally
        return a


def _digest(vector: np.ndarray) -> int:
    return int.from_bytes(hashlib.blake2b(vector.tobytes(), digest_size=8).digest(), "little")


def tally(labels, vectors, inferred: np.ndarray) -> dict[str, VectorTally]:
    """{class: VectorTally} of a batch: ``vectors[i]`` (an array, a list or None) is the
    vector of an image of ``labels[i]``, inferred when ``inferred[i]``, else reused."""
    found: dict[str, VectorTally] = {}
    for label, vector, was_inferred in zip(labels, vectors, inferred):
        if vector is None:
            bad, digest = True, None
        else:
            values = np.asarray(vector, dtype=np.float32)  # a null element becomes NaN
            bad, digest = values.shape != (FEATURES,) or not np.isfinite(values).all(), _digest(values)
        one = VectorTally(int(was_inferred), int(not was_inferred), int(bad), digest, digest)
        found[label] = found[label] + one if label in found else one
    return found


def _bad_vector() -> Column:
    not_finite = F.array(*[F.lit(value).cast("float") for value in _NOT_FINITE])
    holds_not_finite = F.arrays_overlap("features", not_finite)  # null: no match, but a null element
    return F.coalesce(F.col("features").isNull() | (F.size("features") != FEATURES) | holds_not_finite, F.lit(True))


def of_features(features: DataFrame, classes: list[str]) -> dict[str, FeatureMeasures]:
    """The measures of each of ``classes`` in ``features`` (a class without rows: zeros)."""
    measured = features.groupBy(PARTITION).agg(
        F.count("*").alias("rows"),
        F.countDistinct("image_id").alias("ids"),
        F.sum(_bad_vector().cast("long")).alias("bad"),
        F.min(F.xxhash64("features")).alias("low"),
        F.max(F.xxhash64("features")).alias("high"),
    )
    found = {
        row[PARTITION]: FeatureMeasures(row["rows"], row["ids"], int(row["bad"] or 0), row["low"] == row["high"])
        for row in measured.collect()
    }
    return {c: found.get(c, FeatureMeasures(0, 0, 0, False)) for c in classes}
