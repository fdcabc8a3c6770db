"""Long actions report their progress in images to whoever listens, and to nobody by
default; the CLI draws it as a bar."""

import io

import pytest

from fruits_assets.cli import ProgressBars
from fruits_assets.spark_jobs import progress
from fruits_assets_tests.conftest import run_images

CLASSES = ["Apple Golden 1", "Cherry Rainier 1", "Tomato Heart 1"]


@pytest.mark.slow
def test_ingest_and_featurize_report_images_up_to_their_total(spark, real_sample, lake):
    reports = []
    with progress.listening(lambda what, done, total: reports.append((what, done, total))):
        ingested, featurized = run_images(spark, real_sample, lake, CLASSES)
    for step, total in (("raw_images", ingested.scanned_files), ("image_features", featurized.inferred)):
        seen = [(done, of) for what, done, of in reports if what == step]
        assert seen[0] == (0, total) and seen[-1] == (total, total), step
        assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:])), f"{step} never goes back"


def test_nobody_listening_means_nothing_is_reported(spark):
    with progress.tracking(spark, "anything", 10):
        assert progress._LISTENERS == []


def test_the_cli_bar_shows_images_and_their_rate():
    out = io.StringIO()
    bars = ProgressBars(file=out)
    for done in (0, 40, 100):
        bars("image_features", done, 100)
    assert "image_features" in out.getvalue() and "100/100" in out.getvalue() and "images/s" in out.getvalue()
    assert bars.bars == {}, "a finished bar is closed"
