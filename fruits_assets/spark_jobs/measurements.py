"""What is measured per class while a table is written (with Spark's ``observe``, in
the same pass as the write) and stored in the version's manifest, for the asset
checks to evaluate without reading the data again.

A measure maps "this row belongs to the class" (a boolean column) to an aggregate.
"""

from __future__ import annotations

from typing import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F

from .mobilenet import FEATURES

Measure = Callable[[Column], Column]


def count(inside: Column) -> Column:
    return F.sum(inside.cast("long"))


def _bad_vectors(inside: Column) -> Column:
    """Vectors that are null, not FEATURES long, or hold a NaN or an infinity."""
    finite = F.forall("features", lambda v: ~F.isnan(v) & (F.abs(v) < float("inf")))
    bad = F.col("features").isNull() | (F.size("features") != FEATURES) | ~finite
    return count(inside & F.coalesce(bad, F.lit(True)))


def _image_mean() -> Column:
    return F.aggregate("features", F.lit(0.0), lambda acc, v: acc + v) / F.size("features")


MEASURES: dict[str, dict[str, Measure]] = {
    "image_features": {
        "bad_vectors": _bad_vectors,
        "min_image_mean": lambda inside: F.min(F.when(inside, _image_mean())),
        "max_image_mean": lambda inside: F.max(F.when(inside, _image_mean())),
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
