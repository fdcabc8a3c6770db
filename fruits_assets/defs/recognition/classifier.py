"""The first fruit-recognition model: a multinomial logistic regression on the PCA matrix,
with an evaluation that adapts to how the data is split.

- ``test split``: when the Test rows cover at least MIN_TEST_COVERAGE of the classes
  with Training rows, the model is fitted on every Training row and scored on those Test
  rows (Test rows of classes without Training rows are counted apart, not scored).
- ``hold-out``: otherwise (published Fruits-360 subsets may put each variety wholly in
  Training or wholly in Test), a seeded, stratified HOLD_OUT share of the Training rows
  of each class that has at least 2 is set aside; the model is fitted on the rest and
  scored on them.
- ``none``: when no honest evaluation is possible (a single class, or no class with 2
  Training rows), the model is still fitted and saved, and the report says why.

scikit-learn on the driver rather than ``pyspark.ml``: the matrix is a pandas DataFrame
already, and at these sizes the fit is 12-80x faster than Spark's (docs/benchmarks.md).
Nothing here imports Dagster or Spark.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import joblib
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

TOP_K = 5
MIN_TEST_COVERAGE = 0.5  # the Test rows must cover this share of the trained classes
HOLD_OUT = 0.2  # of each class's Training rows, when the Test split cannot be used
TEST_SPLIT, HELD_OUT, NOT_EVALUATED = "test split", "hold-out", "none"


class ClassifierError(ValueError):
    """The matrix cannot train a classifier at all; the message says why."""


@dataclass(frozen=True)
class ClassAccuracy:
    label: str
    evaluated_images: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.evaluated_images if self.evaluated_images else float("nan")


@dataclass
class ClassifierReport:
    """How the model was evaluated, on which rows, and how it did."""

    evaluation: str  # TEST_SPLIT, HELD_OUT or NOT_EVALUATED
    reason: str  # why this evaluation
    classes: list[str]
    train_rows: int
    evaluated_rows: int
    test_only_classes: list[str]  # Test rows of classes without Training rows: not scored
    accuracy: float | None = None
    top_k_accuracy: float | None = None
    top_k: int = 0
    per_class: list[ClassAccuracy] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list, repr=False)  # [true][predicted], in ``classes`` order

    @property
    def evaluated(self) -> bool:
        return self.evaluation != NOT_EVALUATED

    @property
    def chance(self) -> float:
        return 1.0 / len(self.classes)

    def floor(self, chance_multiple: float) -> float:
        """``chance_multiple`` x chance, capped halfway between chance and perfect (with few
        classes, 5x chance is out of reach)."""
        return min(chance_multiple * self.chance, (1.0 + self.chance) / 2)


@dataclass
class FruitClassifier:
    """The fitted model and the PCA columns it reads."""

    model: Pipeline
    features: list[str]

    @property
    def classes(self) -> list[str]:
        return list(self.model.classes_)

    def predict(self, matrix: pd.DataFrame) -> np.ndarray:
        return self.model.predict(inputs(matrix, self.features))

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        joblib.dump(self, buffer)
        return buffer.getvalue()

    @staticmethod
    def from_bytes(data: bytes) -> "FruitClassifier":
        """Load a model this project saved in its own lake (joblib: trust the lake only)."""
        return joblib.load(io.BytesIO(data))


def inputs(matrix: pd.DataFrame, features: list[str], rows: np.ndarray | None = None) -> np.ndarray:
    """The model's input for ``rows`` (a boolean mask; default: every row): float32, the
    precision of the image features themselves (the fit takes about half the time it
    does in float64, to the same predictions). Filled a column at a time, so no copy of
    the DataFrame, in float64 or for a subset of its rows, is ever made."""
    values = np.empty((len(matrix) if rows is None else int(rows.sum()), len(features)), dtype=np.float32)
    for i, column in enumerate(features):
        column_values = matrix[column].to_numpy()
        values[:, i] = column_values if rows is None else column_values[rows]
    return values


def feature_columns(matrix: pd.DataFrame) -> list[str]:
    columns = [c for c in matrix.columns if c.startswith("pc_")]
    if not columns or not {"label", "split"} <= set(matrix.columns):
        raise ClassifierError("The PCA matrix needs columns label, split and pc_1..pc_k.")
    return sorted(columns, key=lambda c: int(c[3:]))


def held_out(labels: np.ndarray, rows: np.ndarray, seed: int) -> np.ndarray:
    """A seeded, stratified HOLD_OUT share of ``rows`` (a mask) of each class having at
    least 2 of them (at least one image of such a class stays for the fit)."""
    chosen = np.zeros(len(labels), dtype=bool)
    rng = np.random.default_rng(seed)
    for label in np.unique(labels[rows]):
        members = np.flatnonzero(rows & (labels == label))
        if len(members) >= 2:
            count = min(len(members) - 1, max(1, round(HOLD_OUT * len(members))))
            chosen[rng.choice(members, size=count, replace=False)] = True
    return chosen


def plan(labels: np.ndarray, split: np.ndarray, seed: int) -> tuple[str, str, np.ndarray, np.ndarray]:
    """(evaluation, reason, rows to fit on, rows to score) for the matrix's layout. A matrix
    without Training rows is all training rows (there is no Test split to speak of)."""
    training = split == "Training"
    if not training.any():
        training = np.ones(len(split), dtype=bool)
        split = np.full(len(split), "Training")
    classes = np.unique(labels[training])
    if len(classes) < 2:
        return NOT_EVALUATED, f"the Training rows hold {len(classes)} class(es): there is nothing to tell apart", training, training & False
    scored = (split == "Test") & np.isin(labels, classes)
    covered = len(np.unique(labels[scored]))
    if covered >= MIN_TEST_COVERAGE * len(classes):
        return TEST_SPLIT, f"the Test rows cover {covered} of the {len(classes)} trained classes", training, scored
    held = held_out(labels, training, seed)
    if not held.any():
        return (NOT_EVALUATED, f"the Test rows cover {covered} of the {len(classes)} trained classes, and no class has "
                "2 Training images to hold one out", training, held)
    fit_on = training & ~held
    why = (f"the Test rows cover {covered} of the {len(classes)} trained classes (under {MIN_TEST_COVERAGE:.0%}): "
           f"scored on a seeded, stratified {HOLD_OUT:.0%} of the Training rows")
    return HELD_OUT, why, fit_on, held


def train(matrix: pd.DataFrame, seed: int = 0) -> tuple[FruitClassifier, ClassifierReport]:
    """Fit and evaluate as ``plan`` says. Rows are taken by masks, never as copies."""
    from sklearn.dummy import DummyClassifier  # scikit-learn is imported when a model is trained
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = feature_columns(matrix)
    labels, split = matrix["label"].to_numpy(), matrix["split"].to_numpy()
    if not len(matrix):
        raise ClassifierError("The PCA matrix has no rows: there is nothing to fit a classifier on.")
    evaluation, reason, fit_on, scored = plan(labels, split, seed)
    values = inputs(matrix, features, fit_on)
    scaler = StandardScaler().fit(values)
    scaler.transform(values, copy=False)  # in place: what the pipeline's fit would do on a copy
    if len(np.unique(labels[fit_on])) < 2:
        estimator = DummyClassifier(strategy="most_frequent").fit(values, labels[fit_on])
    else:
        # One BLAS thread: at these sizes a second one costs more in hand-offs than it computes
        # (the 50,000-image fit: 12.3 s on two threads, 7.1 s on one; docs/benchmarks.md).
        with threadpool_limits(limits=1, user_api="blas"):
            estimator = LogisticRegression(max_iter=2000, random_state=seed).fit(values, labels[fit_on])
    classifier = FruitClassifier(make_pipeline(scaler, estimator), features)
    report = ClassifierReport(
        evaluation=evaluation, reason=reason, classes=classifier.classes, train_rows=int(fit_on.sum()),
        evaluated_rows=int(scored.sum()),
        test_only_classes=sorted(set(labels[(split == "Test") & ~np.isin(labels, classifier.classes)])),
    )
    if scored.any():
        score(classifier, inputs(matrix, features, scored), labels[scored], report)
    return classifier, report


def score(classifier: FruitClassifier, values: np.ndarray, truth_labels: np.ndarray, report: ClassifierReport) -> None:
    """Fill ``report``'s accuracy, top-k accuracy, per-class table and confusion matrix."""
    classes = classifier.classes
    probabilities = classifier.model.predict_proba(values)
    truth = np.searchsorted(classes, truth_labels)
    predicted = probabilities.argmax(axis=1)
    top_k = min(TOP_K, len(classes))
    best = np.argsort(-probabilities, axis=1)[:, :top_k]
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    report.accuracy = float((predicted == truth).mean())
    report.top_k_accuracy = float((best == truth[:, None]).any(axis=1).mean())
    report.top_k = top_k
    report.per_class = [ClassAccuracy(c, int(confusion[i].sum()), int(confusion[i, i])) for i, c in enumerate(classes)]
    report.confusion = confusion.tolist()
