"""What the asset checks need to know of the features a job wrote, per class, measured on
the table's new version in one aggregation: rows, distinct image ids, bad vectors, and
whether every image of the class got the same vector."""

from __future__ import annotations

from dataclasses import dataclass

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
