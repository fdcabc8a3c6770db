"""Checks of the PCA model and its CSV matrix: pure functions of what the jobs reported."""

from __future__ import annotations

from dataclasses import dataclass

from ..shared import Outcome


@dataclass(frozen=True)
class FittedModel:
    k: int
    variance_target: float | None
    cumulative_variance: float


@dataclass(frozen=True)
class WrittenMatrix:
    rows: int
    columns: list[str]
    k: int
    feature_rows: int  # the rows of the features the model projects


def variance_target_reached(m: FittedModel) -> Outcome:
    """The chosen k explains at least the requested share of the variance."""
    reached = m.variance_target is None or m.cumulative_variance >= m.variance_target - 1e-9
    return Outcome(reached, {"k": m.k, "target": m.variance_target, "reached": m.cumulative_variance})


def one_row_per_feature_row_and_k_columns(m: WrittenMatrix) -> Outcome:
    """The CSV has one row per feature row of the model's classes, and the columns
    path,label,split,pc_1..pc_k."""
    expected = ["path", "label", "split", *(f"pc_{i}" for i in range(1, m.k + 1))]
    return Outcome(m.rows == m.feature_rows > 0 and m.columns == expected,
                   {"rows": m.rows, "feature_rows": m.feature_rows, "k": m.k, "columns_as_expected": m.columns == expected})
