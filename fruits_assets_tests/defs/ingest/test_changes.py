"""Which classes ingest reads again: those whose listed files are not exactly what the two
tables hold (path, size, modification time), and the figures of the others."""

from datetime import datetime, timezone

import pyarrow as pa
import pytest

from fruits_assets.defs.ingest.changes import HeldFiles, relative_path, unchanged_classes
from fruits_assets.resources.source import SourceFile

pytestmark = pytest.mark.fast

ROOT = "file:/data/fruits"


def _ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _raw(rows: list[tuple]) -> pa.Table:
    """(label, split, name, size, modified ms, image id) rows as the raw table holds them."""
    return pa.table({
        "label": [r[0] for r in rows], "split": [r[1] for r in rows],
        "path": [f"{ROOT}/{r[1]}/{r[0]}/{r[2]}" for r in rows], "file_size": [r[3] for r in rows],
        "file_modified": pa.array([_ms(r[4]) for r in rows], pa.timestamp("us", tz="UTC")),
        "image_id": [r[5] for r in rows],
    })


def _rejected(rows: list[tuple]) -> pa.Table:
    table = _raw([(*r[:5], "") for r in rows]).drop(["image_id"])
    return table.append_column("reason", pa.array([r[5] for r in rows]))


LISTED = {
    "Kiwi": [SourceFile("Training/Kiwi/a.jpg", 10, 1000), SourceFile("Test/Kiwi/b.jpg", 20, 2000),
             SourceFile("Training/Kiwi/notes.txt", 5, 3000)],
    "Lime": [SourceFile("Training/Lime/c.jpg", 30, 4000)],
}
HELD = HeldFiles(
    _raw([("Kiwi", "Training", "a.jpg", 10, 1000, "id-a"), ("Kiwi", "Test", "b.jpg", 20, 2000, "id-b"),
          ("Lime", "Training", "c.jpg", 30, 4000, "id-c")]),
    _rejected([("Kiwi", "Training", "notes.txt", 5, 3000, "unsupported_extension")]),
)


def test_classes_whose_files_are_all_held_are_unchanged():
    assert unchanged_classes(LISTED, HELD) == ["Kiwi", "Lime"]


@pytest.mark.parametrize("change", ["added", "removed", "resized", "touched", "renamed"])
def test_any_change_to_a_file_reads_its_class_again(change):
    kiwi = list(LISTED["Kiwi"])
    if change == "added":
        kiwi.append(SourceFile("Training/Kiwi/new.jpg", 1, 1))
    elif change == "removed":
        kiwi.pop(0)
    elif change == "resized":
        kiwi[0] = SourceFile(kiwi[0].relative, 11, kiwi[0].modified_ms)
    elif change == "touched":
        kiwi[0] = SourceFile(kiwi[0].relative, kiwi[0].size, kiwi[0].modified_ms + 1)
    else:
        kiwi[0] = SourceFile("Test/Kiwi/a.jpg", kiwi[0].size, kiwi[0].modified_ms)
    assert unchanged_classes({**LISTED, "Kiwi": kiwi}, HELD) == ["Lime"]


def test_an_empty_lake_holds_nothing_and_an_empty_class_is_unchanged():
    empty = HeldFiles(None, None)
    assert unchanged_classes({**LISTED, "Empty": []}, empty) == ["Empty"]


def test_figures_of_unchanged_classes_come_from_the_tables():
    kiwi = HELD.measures(LISTED, ["Kiwi"])["Kiwi"]
    assert (kiwi.files, kiwi.ingested, kiwi.distinct_ids, kiwi.rejected) == (3, 2, 2, 1)
    assert kiwi.rejected_by_reason == {"unsupported_extension": 1} and kiwi.thumbnails is None


def test_relative_path_keeps_what_lies_below_the_class_folder():
    assert relative_path("s3a://b/src/Test/Apple, Red/x/y.jpg", "Test", "Apple, Red") == "Test/Apple, Red/x/y.jpg"
