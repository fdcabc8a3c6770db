"""The vector tally the featurize UDF keeps per class: what the feature checks read."""

import numpy as np
import pytest

from fruits_assets.spark_jobs.measurements import TallyByClass, VectorTally, tally
from fruits_assets.spark_jobs.mobilenet import FEATURES

pytestmark = pytest.mark.fast


def _vector(value: float) -> np.ndarray:
    return np.full(FEATURES, value, dtype=np.float32)


def test_bad_vectors_are_counted_per_class():
    nan, short = _vector(1.0), np.ones(FEATURES - 1, dtype=np.float32)
    nan[7] = np.nan
    infinite = _vector(np.inf)
    with_null = [1.0] * (FEATURES - 1) + [None]
    found = tally(["a", "a", "a", "b", "b", "b"], [nan, short, None, infinite, with_null, _vector(2.0)],
                  np.array([True, True, True, False, False, False]))
    assert (found["a"].inferred, found["a"].reused, found["a"].bad) == (3, 0, 3)
    assert (found["b"].inferred, found["b"].reused, found["b"].bad) == (0, 3, 2)


def test_equal_vectors_are_told_from_different_ones_across_batches():
    same = [tally(["a", "a"], [_vector(0.5), _vector(0.5)], np.array([True, True])),
            tally(["a"], [_vector(0.5)], np.array([False]))]
    varied = [tally(["b"], [_vector(0.5)], np.array([True])), tally(["b"], [_vector(0.25)], np.array([True]))]
    merged = TallyByClass().zero({})
    for batch in same + varied:
        merged = TallyByClass().addInPlace(merged, batch)
    assert merged["a"].measures(rows=3, distinct_ids=3).all_vectors_equal
    assert not merged["b"].measures(rows=2, distinct_ids=2).all_vectors_equal
    assert merged["a"].inferred == 2 and merged["a"].reused == 1
    assert not VectorTally().measures(rows=0, distinct_ids=0).all_vectors_equal, "no rows: nothing to call equal"
