"""A write of some classes is one Delta commit that replaces exactly them: the other
classes' files stay byte for byte, and the commit says who wrote it. Any engine reads it."""

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake

from fruits_assets.spark_jobs import tables

SCHEMA = "label string, image_id string, n int"


def _files(location: Path, label: str) -> dict[str, str]:
    folder = location / f"label={label}"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()} if folder.is_dir() else {}


def test_replacing_classes_rewrites_only_them_in_one_commit(spark, tmp_path):
    location = tmp_path / "t"
    uri = f"file://{location}"
    labels = ["Apple, Red", "Pear 'x' é", "Kiwi  two", "Lime"]
    rows = [(label, f"{label}-{i}", i) for label in labels for i in range(3)]
    tables.replace_classes(spark.createDataFrame(rows, SCHEMA), uri, labels, {"dagster_run_id": "first"})
    before = {label: _files(location, label) for label in labels}

    changed = [(labels[1], "new", 9), (labels[2], "other", 8)]
    tables.replace_classes(spark.createDataFrame(changed, SCHEMA), uri, labels[1:3], {"dagster_run_id": "second"})
    after = {label: _files(location, label) for label in labels}
    assert after[labels[0]] == before[labels[0]] and after[labels[3]] == before[labels[3]]

    table = DeltaTable(str(location))
    history = table.history()
    assert table.version() == 1 and len(history) == 2
    assert json.loads(history[0]["userMetadata"]) == {"dagster_run_id": "second"}
    assert tables.version(spark, uri) == 1
    read_by_rust = sorted(map(tuple, table.to_pandas()[["label", "image_id", "n"]].itertuples(index=False)))
    read_by_spark = sorted(tuple(r) for r in tables.read(spark, uri, labels).select("label", "image_id", "n").collect())
    assert read_by_rust == read_by_spark and len(read_by_rust) == 8
    assert {r[0] for r in read_by_rust if r[1] in ("new", "other")} == set(labels[1:3])


def test_an_empty_write_empties_its_classes(spark, tmp_path):
    uri = f"file://{tmp_path / 't'}"
    tables.replace_classes(spark.createDataFrame([("a", "x", 1), ("b", "y", 2)], SCHEMA), uri, ["a", "b"], {})
    tables.replace_classes(spark.createDataFrame([], SCHEMA), uri, ["a"], {})
    assert [r.label for r in tables.read(spark, uri, ["a", "b"]).collect()] == ["b"]
    assert tables.exists(spark, uri) and not tables.exists(spark, f"file://{tmp_path / 'nothing'}")


def _spark_jobs(spark, group: str, action) -> int:
    """How many Spark jobs ``action()`` ran."""
    spark.sparkContext.setJobGroup(group, group)
    action()
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def test_a_table_loaded_in_background_is_read_without_replaying_its_log(spark, tmp_path):
    uris = {}
    for name in ("cold", "loaded"):  # written by delta-rs: this session has never loaded either
        for rows in ({"label": ["a", "b"] * 3, "n": range(6)}, {"label": ["a"], "n": [9]}):
            write_deltalake(tmp_path / name, pd.DataFrame(rows), partition_by=["label"], mode="append")
        uris[name] = f"file://{tmp_path / name}"
    tables.load_in_background(spark, [uris["loaded"], f"file://{tmp_path / 'missing'}"]).join()

    cold = _spark_jobs(spark, "read-cold", lambda: tables.read(spark, uris["cold"], ["a"]).count())
    loaded = _spark_jobs(spark, "read-loaded", lambda: tables.read(spark, uris["loaded"], ["a"]).count())
    assert loaded < cold
    assert tables.read(spark, uris["loaded"], ["a"]).count() == 4


def test_features_are_written_without_a_parquet_dictionary(spark, tmp_path):
    location = tmp_path / "features"
    same_vector = [0.5] * 1280  # a dictionary would hold it whole: only the setting keeps it plain
    rows = [(f"id{i}", f"Training/apple/{i}.jpg", "Training", "apple", "m", same_vector) for i in range(4)]
    tables.replace_classes(spark.createDataFrame(rows, tables.FEATURES_SCHEMA), f"file://{location}", ["apple"], {})
    encodings: dict[str, set[str]] = {}
    for written in (location / "label=apple").glob("*.parquet"):
        group = pq.ParquetFile(written).metadata.row_group(0)
        for i in range(group.num_columns):
            encodings.setdefault(group.column(i).path_in_schema, set()).update(group.column(i).encodings)
    assert "PLAIN_DICTIONARY" in encodings["split"]  # the other columns keep Parquet's default
    assert not any("DICTIONARY" in e for e in encodings["features.list.element"])


def test_data_files_hold_exactly_the_rows_delta_reads_at_a_version(spark, tmp_path):
    uri = f"file://{tmp_path / 't'}"
    labels = ["Apple, Red", "Lemon #2 (100%)", "Pear 'x' é", "Lime"]
    rows = [(label, f"{label}-{i}", i) for label in labels for i in range(3)]
    tables.replace_classes(spark.createDataFrame(rows, SCHEMA), uri, labels, {})
    tables.replace_classes(spark.createDataFrame([(labels[1], "new", 9)], SCHEMA), uri, labels[1:2], {})
    for version in (0, 1):
        files = tables.data_files(spark, uri, labels[:3], version)
        # what the workers get: Spark reads each file whole by that name, and the file's rows
        # with its class are the rows Delta's reader gives
        read = spark.read.format("binaryFile").load(list(files)).select("path", "content").collect()
        assert sorted(row.path for row in read) == sorted(files)
        decoded = [(files[row.path], record["image_id"], record["n"]) for row in read
                   for record in pq.read_table(pa.BufferReader(bytes(row.content))).to_pylist()]
        expected = tables.read(spark, uri, labels[:3], version).select("label", "image_id", "n").collect()
        assert sorted(decoded) == sorted(map(tuple, expected)) and len(decoded) == (9 if version == 0 else 7)


def test_a_table_with_deletion_vectors_has_no_plain_data_files(spark, tmp_path):
    """Its Parquet files still hold deleted rows: only Delta's reader reads it right."""
    uri = f"file://{tmp_path / 't'}"
    tables.replace_classes(spark.createDataFrame([("a", "x", 1), ("a", "y", 2)], SCHEMA), uri, ["a"], {})
    assert tables.data_files(spark, uri, ["a"]) is not None
    spark.sql(f"ALTER TABLE {tables.sql_name(uri)} SET TBLPROPERTIES ('delta.enableDeletionVectors' = true)")
    spark.sql(f"DELETE FROM {tables.sql_name(uri)} WHERE image_id = 'x'")
    assert tables.data_files(spark, uri, ["a"]) is None
