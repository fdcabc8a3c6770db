"""Per-class checks of the features: pure functions of what featurize measured."""

from __future__ import annotations

from dataclasses import dataclass

from ...spark_jobs.contracts import FeaturizedClass
from ...spark_jobs.mobilenet import FEATURES, IMAGENET
from ..shared import Outcome


@dataclass(frozen=True)
class ClassFeatures:
    """A class's measured features and the weights that computed them."""

    measured: FeaturizedClass
    weights: str


def one_feature_row_per_image(c: ClassFeatures) -> Outcome:
    """Exactly one feature row per raw image of the class."""
    m = c.measured
    return Outcome(m.rows == m.distinct_ids == m.raw_rows,
                   {"raw_rows": m.raw_rows, "rows": m.rows, "distinct_ids": m.distinct_ids})


def features_are_1280_finite_values(c: ClassFeatures) -> Outcome:
    """Every vector has 1280 finite values."""
    return Outcome(c.measured.bad_vectors == 0, {"bad_vectors": c.measured.bad_vectors, "length": FEATURES})


def features_not_constant(c: ClassFeatures) -> Outcome:
    """Images of a class (of 2 or more) do not all get the same features."""
    m = c.measured
    return Outcome(m.rows < 2 or not m.all_vectors_equal, {"rows": m.rows, "all_vectors_equal": m.all_vectors_equal})


def features_from_imagenet_weights(c: ClassFeatures) -> Outcome:
    """Warns when the features come from other weights than ImageNet's (random ones are
    fine for testing the pipeline, useless for recognition)."""
    return Outcome(c.weights == IMAGENET, {"weights": c.weights})
