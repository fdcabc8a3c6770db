"""Which classes featurize writes again: those whose feature rows are not one per raw image
(same id, path and split) from the current model."""

import pyarrow as pa
import pytest

from fruits_assets.defs.features.changes import held_features

pytestmark = pytest.mark.fast

MODEL = "litert-random-seed0-100-224"
RAW = [("Kiwi", "a", "Training/Kiwi/a.jpg", "Training"), ("Kiwi", "b", "Test/Kiwi/b.jpg", "Test"),
       ("Lime", "c", "Training/Lime/c.jpg", "Training")]


def _table(rows, model=None) -> pa.Table:
    columns = {"label": [r[0] for r in rows], "image_id": [r[1] for r in rows], "path": [r[2] for r in rows],
               "split": [r[3] for r in rows]}
    if model is not None:
        columns["model"] = [model] * len(rows) if isinstance(model, str) else model
    return pa.table(columns)


def test_features_of_every_raw_image_from_the_model_are_current():
    held = held_features(_table(RAW), _table(RAW, MODEL), MODEL, ["Kiwi", "Lime"])
    assert held["Kiwi"].current and held["Lime"].current
    assert (held["Kiwi"].raw_rows, held["Kiwi"].rows, held["Kiwi"].distinct_ids) == (2, 2, 2)


def test_another_model_a_missing_row_a_moved_image_or_a_duplicate_are_not_current():
    assert not held_features(_table(RAW), _table(RAW, "other"), MODEL, ["Kiwi"])["Kiwi"].current
    assert not held_features(_table(RAW), _table(RAW[1:], MODEL), MODEL, ["Kiwi"])["Kiwi"].current
    moved = [("Kiwi", "a", "Test/Kiwi/a.jpg", "Test"), *RAW[1:]]
    assert not held_features(_table(RAW), _table(moved, MODEL), MODEL, ["Kiwi"])["Kiwi"].current
    doubled = held_features(_table(RAW), _table([RAW[0], *RAW], MODEL), MODEL, ["Kiwi"])["Kiwi"]
    assert not doubled.current and doubled.rows == 3 and doubled.distinct_ids == 2
    mixed = held_features(_table(RAW), _table(RAW, [MODEL, "other", MODEL]), MODEL, ["Kiwi"])["Kiwi"]
    assert not mixed.current


def test_no_features_table_yet_means_nothing_is_current():
    held = held_features(_table(RAW), None, MODEL, ["Kiwi", "Lime"])
    assert not held["Kiwi"].current and held["Kiwi"].rows == 0 and held["Kiwi"].raw_rows == 2


def test_the_content_digest_names_the_images_and_the_model():
    one = held_features(_table(RAW), None, MODEL, ["Kiwi"])["Kiwi"].content
    assert one == held_features(_table(list(reversed(RAW))), None, MODEL, ["Kiwi"])["Kiwi"].content
    assert one != held_features(_table(RAW), None, "other", ["Kiwi"])["Kiwi"].content
    assert one != held_features(_table(RAW[1:]), None, MODEL, ["Kiwi"])["Kiwi"].content
