"""The features checks: pure functions of what featurize measured."""

import pytest

from fruits_assets.defs.features import checks
from fruits_assets.defs.features.checks import ClassFeatures
from fruits_assets.spark_jobs.contracts import FeaturizedClass

pytestmark = pytest.mark.fast


def _class(weights="random", **measured) -> ClassFeatures:
    values = dict(rows=4, raw_rows=4, distinct_ids=4, inferred=4, reused=0, bad_vectors=0, all_vectors_equal=False)
    return ClassFeatures(FeaturizedClass(**{**values, **measured}), weights)


def test_good_features_pass_every_blocking_check():
    for check in (checks.one_feature_row_per_image, checks.features_are_1280_finite_values, checks.features_not_constant):
        assert check(_class()).passed


@pytest.mark.parametrize("measured", [{"rows": 3}, {"distinct_ids": 3}, {"raw_rows": 5}])
def test_a_missing_or_doubled_row_fails(measured):
    assert not checks.one_feature_row_per_image(_class(**measured)).passed


def test_a_bad_vector_fails():
    outcome = checks.features_are_1280_finite_values(_class(bad_vectors=1))
    assert not outcome.passed and outcome.metadata["bad_vectors"] == 1


def test_constant_features_fail_for_two_images_or_more():
    assert not checks.features_not_constant(_class(all_vectors_equal=True)).passed
    assert checks.features_not_constant(_class(rows=1, raw_rows=1, distinct_ids=1, all_vectors_equal=True)).passed


def test_only_imagenet_weights_pass_the_weights_warning():
    assert checks.features_from_imagenet_weights(_class("imagenet")).passed
    assert not checks.features_from_imagenet_weights(_class("random")).passed
