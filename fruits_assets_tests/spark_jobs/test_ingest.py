"""Ingest of the real sample and of the bad-input corpus into the two Delta tables."""

import hashlib
import shutil
from collections import Counter

from deltalake import DeltaTable

from fruits_assets.spark_jobs import jobs, tables
from fruits_assets.spark_jobs.contracts import IngestParams
from fruits_assets_tests import corpus
from fruits_assets_tests.conftest import run_images, table


def test_ingest_real_sample_every_class(spark, real_sample, lake):
    classes = sorted(p.name for p in (real_sample / "Training").iterdir())
    result = jobs.run(spark, IngestParams(source_root=f"file://{real_sample}", raw_images=table(lake, "raw_images"),
                                          rejected_images=table(lake, "rejected_images"), classes=classes))
    assert len(classes) == 24
    assert result.files == result.ingested == 1200 and result.rejected == 0
    assert all(m.ingested == m.distinct_ids == 50 and m.thumbnails for m in result.classes.values())
    raw = tables.read(spark, table(lake, "raw_images"), classes)
    assert raw.count() == 1200 and raw.select("image_id").distinct().count() == 1200
    row = raw.where("label = 'Cherry 1' and split = 'Test'").first()
    assert (row.width, row.height) == (100, 100) and row.content[:2] == b"\xff\xd8"
    assert row.image_id == hashlib.sha256(row.content).hexdigest()  # the content id
    assert row.path.endswith(".jpg") and "/Test/Cherry 1/" in row.path
    source_file = real_sample / "Test" / "Cherry 1" / row.path.rsplit("/", 1)[1]
    assert row.file_size == source_file.stat().st_size == len(row.content)
    assert int(row.file_modified.timestamp() * 1000) == source_file.stat().st_mtime_ns // 1_000_000
    assert dict(raw.groupBy("split").count().collect()) == {"Training": 960, "Test": 240}
    written = DeltaTable(str(lake / "tables" / "raw_images"))
    assert written.metadata().partition_columns == ["label"] and written.version() == 0
    files_per_class = Counter(uri.rsplit("/", 2)[1] for uri in written.file_uris())
    assert len(files_per_class) == 24 and set(files_per_class.values()) == {1}  # the scan mixes classes in its tasks


def test_bad_inputs_are_recorded_not_fatal(spark, real_sample, lake, tmp_path):
    source = corpus.build(real_sample, tmp_path / "source")
    classes = [corpus.REAL_CLASS, corpus.ODD_CLASS, corpus.EMPTY_CLASS]
    ingested, featurized = run_images(spark, source, lake, classes)

    rejected = {r.path.rsplit("/", 1)[1]: r.reason for r in tables.read(spark, table(lake, "rejected_images"), classes).collect()}
    expected_rejects = {name: reason for name, reason in corpus.EXPECTED.items() if reason}
    assert rejected == expected_rejects
    files = sum(1 for _ in source.rglob("*") if _.is_file())
    assert featurized.rows + len(rejected) == files == ingested.files
    assert featurized.classes[corpus.EMPTY_CLASS].rows == 0 and ingested.classes[corpus.EMPTY_CLASS].files == 0
    valid = {n for n, r in corpus.EXPECTED.items() if r is None}
    featured = {r.path.rsplit("/", 1)[1] for r in tables.read(spark, table(lake, "image_features"), [corpus.ODD_CLASS]).collect()}
    assert featured == valid
    odd = ingested.classes[corpus.ODD_CLASS]
    assert odd.rejected == len(expected_rejects) and odd.rejected_by_reason["hidden_file"] == 1
    assert odd.files == odd.ingested + odd.rejected


def test_source_is_never_modified(spark, real_sample, lake, tmp_path):
    source = corpus.build(real_sample, tmp_path / "source")
    before = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    run_images(spark, source, lake, [corpus.ODD_CLASS])
    after = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    assert before == after


def test_rejected_images_is_replaced_only_when_that_changes_it(spark, real_sample, lake, tmp_path, monkeypatch):
    source = tmp_path / "source"
    classes = ["Cherry 1", "Tomato 1"]
    for cls in classes:
        shutil.copytree(real_sample / "Training" / cls, source / "Training" / cls)
    cut = source / "Training" / "Cherry 1" / "zz_cut.jpg"
    cut.write_bytes(next((source / "Training" / "Tomato 1").iterdir()).read_bytes()[:1000])
    rejected = table(lake, "rejected_images")
    replaced = []
    original = tables.replace_classes
    monkeypatch.setattr(tables, "replace_classes", lambda df, location, *rest: (replaced.append(location),
                                                                                 original(df, location, *rest)))

    def ingest(cls: str, held: list[str] | None):
        replaced.clear()
        jobs.run(spark, IngestParams(source_root=f"file://{source}", raw_images=table(lake, "raw_images"),
                                     rejected_images=rejected, classes=[cls], classes_with_rejections=held))
        return rejected in replaced, DeltaTable(rejected.removeprefix("file://")).version()

    assert ingest("Tomato 1", []) == (True, 0), "the first ingest creates the table"
    assert ingest("Cherry 1", []) == (True, 1), "a rejection to write"
    assert ingest("Tomato 1", []) == (False, 1), "nothing to write or remove: no Delta work"
    assert ingest("Tomato 1", None) == (True, 1), "what the table holds not known: replaced (Delta commits nothing)"
    cut.unlink()
    assert ingest("Cherry 1", ["Cherry 1"]) == (True, 2), "the fixed file's rejection is removed"
    assert tables.read(spark, rejected, classes).count() == 0
