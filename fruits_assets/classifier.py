"""The first fruit-recognition model: a multinomial logistic regression on the PCA matrix,
trained on the Training split and evaluated on the Test split.

scikit-learn on the driver rather than ``pyspark.ml``: the matrix is a pandas DataFrame
already, and at these sizes the fit is 12-80x faster than Spark's (README, "What the
features are worth"). Nothing here imports Dagster or Spark.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

TOP_K = 5
MODEL_FILE = "model.joblib"  # in each version of the fruit_classifier table


class ClassifierError(ValueError):
    """The matrix cannot train or evaluate a classifier; the message says why."""


@dataclass(frozen=True)
class ClassAccuracy:
    label: str
    test_images: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.test_images if self.test_images else float("nan")


@dataclass
class ClassifierReport:
    """Test-split results over the classes that have Training images."""

    accuracy: float
    top_k_accuracy: float
    top_k: int
    classes: list[str]
    train_rows: int
    test_rows: int
    test_only_classes: list[str]
    test_only_rows: int
    per_class: list[ClassAccuracy]
    confusion: list[list[int]] = field(repr=False)  # [true class][predicted class], in ``classes`` order

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


def train(matrix: pd.DataFrame, seed: int = 0) -> tuple[FruitClassifier, ClassifierReport]:
    """Fit on the Training rows, evaluate on the Test rows of the classes it was trained on;
    Test rows of classes with no Training images are counted apart, not scored. Rows are
    taken by masks, never as copies of the DataFrame."""
    features = feature_columns(matrix)
    labels, split = matrix["label"].to_numpy(), matrix["split"].to_numpy()
    training, test = split == "Training", split == "Test"
    classes = sorted(set(labels[training]))
    if len(classes) < 2:
        raise ClassifierError(f"Training rows cover {len(classes)} class(es); a classifier needs at least 2.")
    scored = test & np.isin(labels, classes)
    if not scored.any():
        raise ClassifierError("No Test images of a trained class: nothing to evaluate the classifier on.")
    values = inputs(matrix, features, training)
    scaler = StandardScaler().fit(values)
    scaler.transform(values, copy=False)  # in place: what the pipeline's fit would do on a copy
    # One BLAS thread: at these sizes a second one costs more in hand-offs than it computes
    # (the 50,000-image fit: 12.3 s on two threads, 7.1 s on one; docs/benchmarks.md).
    with threadpool_limits(limits=1, user_api="blas"):
        model = make_pipeline(scaler, LogisticRegression(max_iter=2000, random_state=seed).fit(values, labels[training]))
    classifier = FruitClassifier(model, features)
    scored_values = inputs(matrix, features, scored)
    return classifier, evaluate(classifier, scored_values, labels[scored], int(training.sum()), labels[test & ~scored])


def evaluate(classifier: FruitClassifier, values: np.ndarray, truth_labels: np.ndarray, train_rows: int,
             test_only_labels: np.ndarray) -> ClassifierReport:
    """The report on the scored Test rows (``values``, their ``truth_labels``)."""
    classes = classifier.classes
    probabilities = classifier.model.predict_proba(values)
    truth = np.searchsorted(classes, truth_labels)
    predicted = probabilities.argmax(axis=1)
    top_k = min(TOP_K, len(classes))
    best = np.argsort(-probabilities, axis=1)[:, :top_k]
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    per_class = [ClassAccuracy(c, int(confusion[i].sum()), int(confusion[i, i])) for i, c in enumerate(classes)]
    return ClassifierReport(
        accuracy=float((predicted == truth).mean()),
        top_k_accuracy=float((best == truth[:, None]).any(axis=1).mean()),
        top_k=top_k,
        classes=classes,
        train_rows=train_rows,
        test_rows=len(truth_labels),
        test_only_classes=sorted(set(test_only_labels)),
        test_only_rows=len(test_only_labels),
        per_class=per_class,
        confusion=confusion.tolist(),
    )
