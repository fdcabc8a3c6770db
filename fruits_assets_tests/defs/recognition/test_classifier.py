"""The classifier: fitted in float32 on one BLAS thread, and evaluated as the matrix's split
layout allows (the Test split, a hold-out of Training, or not at all, with the reason)."""

import numpy as np
import pandas as pd
import pytest
import sklearn.linear_model
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

from fruits_assets.defs.recognition.classifier import (
    HELD_OUT,
    HOLD_OUT,
    NOT_EVALUATED,
    TEST_SPLIT,
    ClassifierError,
    FruitClassifier,
    feature_columns,
    held_out,
    inputs,
    train,
)

pytestmark = pytest.mark.fast

CLASSES = [f"Fruit {i}" for i in range(6)]


def matrix(seed: int = 0, test_only: str | None = "Kiwi Test Only", classes=CLASSES,
           counts=(("Training", 40), ("Test", 10))) -> pd.DataFrame:
    """Separable classes around their own centres; ``counts`` rows per split and class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(classes), 8)) * 4
    rows = []
    for i, label in enumerate(classes):
        for split, count in counts:
            for j, point in enumerate(centres[i] + rng.normal(size=(count, 8))):
                rows.append({"path": f"{split}/{label}/{j}.jpg", "label": label, "split": split,
                             **{f"pc_{c + 1}": v for c, v in enumerate(point)}})
    if test_only:
        rows += [{"path": f"Test/{test_only}/{j}.jpg", "label": test_only, "split": "Test",
                  **{f"pc_{c + 1}": 0.0 for c in range(8)}} for j in range(3)]
    return pd.DataFrame(rows)


def split_exclusive(seed: int = 0) -> pd.DataFrame:
    """Like the published subsets: each class wholly in Training or wholly in Test."""
    training = matrix(seed, None, CLASSES, (("Training", 40),))
    test = matrix(seed + 1, None, [f"Test Fruit {i}" for i in range(3)], (("Test", 10),))
    return pd.concat([training, test], ignore_index=True)


def test_inputs_are_the_float32_values_of_the_chosen_rows_in_column_order():
    data = matrix().sample(frac=1.0, random_state=0)  # shuffled rows; pc_10 sorts after pc_9
    data["pc_10"] = np.arange(len(data), dtype=np.float64) / 3
    features, rows = feature_columns(data), (data["split"] == "Training").to_numpy()
    assert features[-1] == "pc_10"
    expected = data[features].to_numpy(np.float32)
    np.testing.assert_array_equal(inputs(data, features), expected)
    np.testing.assert_array_equal(inputs(data, features, rows), expected[rows])
    assert inputs(data, features, rows).dtype == np.float32


def test_the_model_is_the_pipeline_fitted_on_the_training_rows():
    """Scaling the Training rows in place gives the model a plain pipeline fit gives."""
    data = matrix()
    model, _ = train(data)
    rows = (data["split"] == "Training").to_numpy()
    reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=0))
    reference.fit(inputs(data, feature_columns(data), rows), data["label"].to_numpy()[rows])
    np.testing.assert_array_equal(model.model[0].scale_, reference[0].scale_)
    np.testing.assert_array_equal(model.model[-1].coef_, reference[-1].coef_)
    values = inputs(data, feature_columns(data))
    given = values.copy()
    model.model.predict(values)
    np.testing.assert_array_equal(values, given)  # the saved pipeline scales a copy of what it is given


def test_a_test_split_that_covers_the_trained_classes_scores_the_model():
    model, report = train(matrix())
    assert report.evaluation == TEST_SPLIT and report.evaluated and "6 of the 6" in report.reason
    assert report.classes == CLASSES and model.classes == CLASSES
    assert report.train_rows == 240 and report.evaluated_rows == 60
    assert report.test_only_classes == ["Kiwi Test Only"]
    assert report.accuracy > 0.9 and report.top_k == 5 and report.top_k_accuracy >= report.accuracy
    assert sum(map(sum, report.confusion)) == 60
    assert [c.evaluated_images for c in report.per_class] == [10] * 6
    assert report.accuracy == sum(c.correct for c in report.per_class) / 60
    assert report.floor(5.0) == pytest.approx(min(5 / 6, (1 + 1 / 6) / 2))
    again = FruitClassifier.from_bytes(model.to_bytes())
    assert (again.predict(matrix()) == model.predict(matrix())).all()
    assert model.model[-1].coef_.dtype == np.float32  # fitted in the features' own precision


def test_when_test_shares_no_class_with_training_a_seeded_stratified_hold_out_scores_it():
    model, report = train(split_exclusive())
    assert report.evaluation == HELD_OUT and "0 of the 6" in report.reason
    assert report.evaluated_rows == 6 * round(HOLD_OUT * 40) and report.train_rows == 240 - report.evaluated_rows
    assert [c.evaluated_images for c in report.per_class] == [8] * 6, "stratified: every class held out alike"
    assert report.accuracy > 0.9 and report.test_only_classes == [f"Test Fruit {i}" for i in range(3)]
    assert train(split_exclusive())[1].confusion == report.confusion, "seeded: the same rows every time"


def test_test_rows_covering_too_few_trained_classes_mean_a_hold_out_too():
    data = matrix(test_only=None)
    data = data[(data["split"] == "Training") | data["label"].isin(CLASSES[:2])]  # Test covers 2 of 6
    assert train(data)[1].evaluation == HELD_OUT


def test_the_hold_out_keeps_an_image_of_every_class_for_the_fit():
    labels = np.array(["a", "a", "b", "c", "c", "c", "c", "c", "c", "c", "c", "c", "c"])
    chosen = held_out(labels, np.ones(len(labels), dtype=bool), seed=0)
    assert list(labels[chosen]).count("a") == 1 and "b" not in labels[chosen] and list(labels[chosen]).count("c") == 2


def test_a_single_class_still_gives_a_saved_model_not_evaluated_with_the_reason():
    model, report = train(matrix(test_only=None, classes=["Solo Fruit"]))
    assert report.evaluation == NOT_EVALUATED and not report.evaluated and "1 class(es)" in report.reason
    assert report.accuracy is None and model.classes == ["Solo Fruit"]
    assert (model.predict(matrix(test_only=None, classes=["Solo Fruit"])) == "Solo Fruit").all()


def test_a_matrix_without_training_rows_is_all_training_rows():
    test_only = matrix(test_only=None, counts=(("Test", 20),))
    assert train(test_only)[1].evaluation == HELD_OUT


def test_only_a_matrix_that_cannot_be_read_is_refused():
    with pytest.raises(ClassifierError, match="pc_1..pc_k"):
        train(matrix()[["path", "label", "split"]])
    with pytest.raises(ClassifierError, match="no rows"):
        train(matrix().iloc[:0])


def test_the_fit_runs_on_one_blas_thread(monkeypatch):
    """Two BLAS threads made the 50,000-image fit 1.7x slower, for the same coefficients."""
    seen = []

    class Recording(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            seen.extend(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")
            return super().fit(X, y, sample_weight)

    monkeypatch.setattr(sklearn.linear_model, "LogisticRegression", Recording)
    with threadpool_limits(limits=2, user_api="blas"):
        train(matrix())
    assert seen and set(seen) == {1}, "the fit sees one BLAS thread, whatever its caller set"


def test_float32_fit_predicts_as_float64_does():
    model, _ = train(matrix(seed=3))
    wide = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=0))
    training = matrix(seed=3).query("split == 'Training'")
    wide.fit(training[model.features].to_numpy(), training["label"].to_numpy())
    test = matrix(seed=3).query("split == 'Test'")
    assert (model.predict(test) == wide.predict(test[model.features].to_numpy())).all()
