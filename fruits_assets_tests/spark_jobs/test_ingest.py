"""Ingest of the real sample and of the bad-input corpus."""

import hashlib
import json

from fruits_assets.spark_jobs import jobs
from fruits_assets.spark_jobs.contracts import IngestParams
from fruits_assets.spark_jobs.versioned import VersionedLake
from fruits_assets_tests import corpus
from fruits_assets_tests.conftest import lake_uri, run_images


def test_ingest_real_sample_every_class(spark, real_sample, lake):
    classes = sorted(p.name for p in (real_sample / "Training").iterdir())
    metrics = jobs.run(spark, IngestParams(source_root=f"file://{real_sample}", lake_root=lake_uri(lake), classes=classes)
    )
    assert len(classes) == 24
    assert metrics.files == metrics.ingested == 1200 and metrics.rejected == 0
    raw = VersionedLake(spark, lake_uri(lake)).read_parquet("raw_images", classes)
    assert raw.count() == 1200
    assert raw.select("image_id").distinct().count() == 1200
    row = raw.where("label = 'Cherry 1' and split = 'Test'").first()
    assert (row.width, row.height) == (100, 100) and row.content[:2] == b"\xff\xd8"
    assert row.image_id == hashlib.sha256(row.content).hexdigest()  # the content id
    assert row.path.endswith(".jpg") and "/Test/Cherry 1/" in row.path
    by_split = dict(raw.groupBy("split").count().collect())
    assert by_split == {"Training": 960, "Test": 240}


def test_bad_inputs_are_recorded_not_fatal(spark, real_sample, lake, tmp_path):
    source = corpus.build(real_sample, tmp_path / "source")
    classes = [corpus.REAL_CLASS, corpus.ODD_CLASS, corpus.EMPTY_CLASS]
    ingested, featurized = run_images(spark, source, lake, classes)

    lake_view = VersionedLake(spark, lake_uri(lake))
    rejected = {
        r.path.rsplit("/", 1)[1]: r.reason
        for r in lake_view.read_parquet("rejected_images", classes).collect()
    }
    expected_rejects = {name: reason for name, reason in corpus.EXPECTED.items() if reason}
    assert rejected == expected_rejects
    files = sum(1 for _ in source.rglob("*") if _.is_file())
    assert featurized.rows + len(rejected) == files == ingested.files
    assert featurized.classes[corpus.EMPTY_CLASS].rows == 0
    valid = {n for n, r in corpus.EXPECTED.items() if r is None}
    featured = {r.path.rsplit("/", 1)[1] for r in lake_view.read_parquet("image_features", [corpus.ODD_CLASS]).collect()}
    assert featured == valid
    manifest = lake_view.manifest("rejected_images", corpus.ODD_CLASS)
    assert manifest["rows"] == len(expected_rejects)
    assert json.loads(ingested.to_json())["classes"][corpus.ODD_CLASS]["rejected_by_reason"]["hidden_file"] == 1


def test_source_is_never_modified(spark, real_sample, lake, tmp_path):
    source = corpus.build(real_sample, tmp_path / "source")
    before = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    run_images(spark, source, lake, [corpus.ODD_CLASS])
    after = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    assert before == after
