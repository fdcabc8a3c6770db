"""What is measured per class while a table is written (with Spark's ``observe``, in
the same pass as the write) and stored in the version's manifest, for the asset
checks to evaluate without reading the data again.

A measure maps "this row belongs to the class" (a boolean column) to an aggregate. The
per-row values measures aggregate (``ROW_VALUES``) are computed once per row, as
columns added before the observation and dropped after it, not once per class.
"""

from __future__ import annotations

from typing import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F

from .mobilenet import FEATURES

Measure = Callable[[Column], Column]


def count(inside: Column) -> Column:
    return F.sum(inside.cast("long"))


# Built-in array functions only: Spark compiles them, while a higher-order function
# (forall, aggregate) is interpreted element by element, boxing each of the 1280 values
# (it was about 40 % of the JVM's featurize time).
_NOT_FINITE = (float("nan"), float("inf"), float("-inf"))


def _bad_vector() -> Column:
    """Null, not FEATURES long, or holding a null, a NaN or an infinity."""
    not_finite = F.array(*[F.lit(value).cast("float") for value in _NOT_FINITE])
    holds_not_finite = F.arrays_overlap("features", not_finite)  # null: no match, but a null element
    return F.coalesce(F.col("features").isNull() | (F.size("features") != FEATURES) | holds_not_finite, F.lit(True))


def _vector_hash() -> Column:
    """Equal for equal vectors (xxHash64 of the values)."""
    return F.xxhash64("features")


ROW_VALUES: dict[str, dict[str, Callable[[], Column]]] = {
    "image_features": {"_bad_vector": _bad_vector, "_vector_hash": _vector_hash},
}
MEASURES: dict[str, dict[str, Measure]] = {
    "image_features": {
        "bad_vectors": lambda inside: count(inside & F.col("_bad_vector")),
        "min_vector_hash": lambda inside: F.min(F.when(inside, F.col("_vector_hash"))),
        "max_vector_hash": lambda inside: F.max(F.when(inside, F.col("_vector_hash"))),
    },
}


def finish(measured: dict) -> dict:
    """Plain JSON values, plus ``all_vectors_equal`` (every image of the class got the
    same features: the smallest and largest vector hashes are equal)."""
    done = {name: (int(v or 0) if name in ("rows", "bad_vectors") else v) for name, v in measured.items()}
    if "min_vector_hash" in done:
        done["all_vectors_equal"] = done.pop("min_vector_hash") == done.pop("max_vector_hash")
    return done
