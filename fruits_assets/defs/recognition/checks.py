"""The classifier's check: a pure function of its evaluation."""

from __future__ import annotations

from ..shared import Outcome
from .classifier import ClassifierReport


def accuracy_above_floor(report: ClassifierReport, floor: float) -> Outcome:
    """Warns when the evaluated accuracy is not above the floor (5x chance by default), or
    when the classifier could not be evaluated at all."""
    metadata = {"evaluation": report.evaluation, "accuracy": report.accuracy, "floor": round(floor, 4),
                "chance": round(report.chance, 4), "classes": len(report.classes)}
    if not report.evaluated:
        return Outcome(False, {**metadata, "reason": report.reason})
    return Outcome(report.accuracy > floor, metadata)
