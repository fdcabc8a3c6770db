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


def _bad_vector() -> Column:
    """Null, not FEATURES long, or holding a NaN or an infinity."""
    finite = F.forall("features", lambda v: ~F.isnan(v) & (F.abs(v) < float("inf")))
    return F.coalesce(F.col("features").isNull() | (F.size("features") != FEATURES) | ~finite, F.lit(True))


def _image_mean() -> Column:
    return F.aggregate("features", F.lit(0.0), lambda acc, v: acc + v) / F.size("features")


ROW_VALUES: dict[str, dict[str, Callable[[], Column]]] = {
    "image_features": {"_bad_vector": _bad_vector, "_image_mean": _image_mean},
}
MEASURES: dict[str, dict[str, Measure]] = {
    "image_features": {
        "bad_vectors": lambda inside: count(inside & F.col("_bad_vector")),
        "min_image_mean": lambda inside: F.min(F.when(inside, F.col("_image_mean"))),
        "max_image_mean": lambda inside: F.max(F.when(inside, F.col("_image_mean"))),
    },
}


def finish(measured: dict) -> dict:
    """Plain JSON numbers, plus ``spread`` (max - min of the per-image feature means:
    0 when every image of the class got the same features)."""
    done = {name: (int(v or 0) if name in ("rows", "bad_vectors") else v) for name, v in measured.items()}
    if "min_image_mean" in done:
        low, high = done.pop("min_image_mean"), done.pop("max_image_mean")
        done["spread"] = 0.0 if low is None or high is None else float(high - low)
    return done
