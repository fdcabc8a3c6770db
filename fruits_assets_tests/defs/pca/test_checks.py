"""The PCA checks: pure functions of what the jobs reported."""

import pytest

from fruits_assets.defs.pca import checks

pytestmark = pytest.mark.fast


def test_the_variance_target_is_reached_or_not_asked_for():
    assert checks.variance_target_reached(checks.FittedModel(10, 0.95, 0.951)).passed
    assert not checks.variance_target_reached(checks.FittedModel(10, 0.95, 0.94)).passed
    assert checks.variance_target_reached(checks.FittedModel(3, None, 0.5)).passed


def test_the_csv_has_a_row_per_feature_row_and_k_columns():
    columns = ["path", "label", "split", "pc_1", "pc_2"]
    assert checks.one_row_per_feature_row_and_k_columns(checks.WrittenMatrix(10, columns, 2, 10)).passed
    assert not checks.one_row_per_feature_row_and_k_columns(checks.WrittenMatrix(9, columns, 2, 10)).passed
    assert not checks.one_row_per_feature_row_and_k_columns(checks.WrittenMatrix(10, columns[:-1], 2, 10)).passed
    assert not checks.one_row_per_feature_row_and_k_columns(checks.WrittenMatrix(0, columns, 2, 0)).passed
