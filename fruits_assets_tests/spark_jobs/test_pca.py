"""PCA: k by target and fixed, at a pinned version of the features; the model saved as a
pyspark.ml PCAModel; a covariance summed in parallel that gives the same CSV bytes every
run; the CSV contract, its lines and what a worker imports to write them; the
coordinates those of PCAModel.transform."""

import csv
import io
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.ml.feature import PCAModel
from pyspark.ml.functions import array_to_vector, vector_to_array

from fruits_assets.spark_jobs import jobs, projection, tables
from fruits_assets.spark_jobs.contracts import PcaFitParams, PcaProjectParams
from fruits_assets.spark_jobs.pca_model import FittedPCA, check_settings
from fruits_assets.spark_jobs.projection import csv_lines, csv_projector, parquet_csv_projector, project_rows
from fruits_assets_tests.conftest import modules_a_worker_imports, run_images, seed_lake, table

CLASSES = ["Apple Red 1", "Cherry 2", "Tomato Maroon 1", "Tomato Yellow 1"]


@pytest.fixture(scope="module")
def featurized_lake(spark, real_sample, tmp_path_factory, model_cache):
    lake = seed_lake(tmp_path_factory.mktemp("pca-lake"), model_cache)
    run_images(spark, real_sample, lake, CLASSES)
    return lake


def _fit(spark, lake, name: str, **settings):
    return jobs.run(spark, PcaFitParams(image_features=table(lake, "image_features"), version=0, classes=CLASSES,
                                        model_dir=f"file://{lake}/models/{name}", **settings))


def _significant_digits(number: str) -> int:
    """The significant digits of a number as the CSV writes it (sign, point and exponent aside)."""
    return len(re.sub(r"[eE].*|[-.]", "", number).strip("0"))


def _csv(spark, lake, name: str, csv: str) -> tuple[pd.DataFrame, bytes, object]:
    result = jobs.run(spark, PcaProjectParams(image_features=table(lake, "image_features"), version=0, classes=CLASSES,
                                              model_dir=f"file://{lake}/models/{name}", csv=f"file://{lake}/{csv}"))
    data = (lake / csv).read_bytes()
    return pd.read_csv(io.BytesIO(data)), data, result


def test_k_by_variance_target(spark, featurized_lake):
    fit = _fit(spark, featurized_lake, "target", variance_target=0.9)
    cumulative = np.asarray(fit.cumulative_variance)
    assert cumulative[-1] >= 0.9 and (fit.k == 1 or cumulative[-2] < 0.9)
    assert len(fit.explained_variance) == fit.k and fit.fitted_on == "Training"
    assert np.all(np.diff(fit.explained_variance) <= 1e-12), "explained variance must not increase"
    assert fit.train_rows == 160 and fit.scree_png

    matrix, data, result = _csv(spark, featurized_lake, "target", "target.csv")
    assert list(matrix.columns) == ["path", "label", "split"] + [f"pc_{i}" for i in range(1, fit.k + 1)]
    values = pd.read_csv(io.BytesIO(data), dtype=str).filter(like="pc_").to_numpy().ravel()
    assert max(map(_significant_digits, values)) <= 9, "float32 coordinates (at most 9 significant digits), the precision of the features"
    assert len(matrix) == result.rows == 200 and result.columns == list(matrix.columns)
    assert set(matrix["split"]) == {"Training", "Test"} and set(matrix["label"]) == set(CLASSES)


def test_the_model_is_a_pyspark_ml_pcamodel(spark, featurized_lake):
    fit = _fit(spark, featurized_lake, "k5", k=5, variance_target=None)
    model = PCAModel.load(f"file://{featurized_lake}/models/k5")
    assert model.getK() == 5 and model.pc.numCols == 5 and model.pc.numRows == 1280
    np.testing.assert_allclose(model.explainedVariance.toArray(), fit.explained_variance)
    (part,) = (featurized_lake / "models" / "k5" / "data").glob("part-*.parquet")
    from_files = FittedPCA.from_data(pq.read_table(part))  # how Python reads it without a JVM
    np.testing.assert_array_equal(from_files.components, model.pc.toArray())


def test_fixed_k_and_deterministic_csv(spark, featurized_lake):
    fit = _fit(spark, featurized_lake, "fixed", k=5, variance_target=None)
    assert fit.k == 5
    assert fit.covariance_partitions >= 2, "the covariance is summed in parallel"
    first, first_bytes, _ = _csv(spark, featurized_lake, "fixed", "first.csv")
    assert first.shape == (200, 8)
    training = first[first["split"] == "Training"][[f"pc_{i}" for i in range(1, 6)]]
    assert np.all(np.diff(training.var().to_numpy()) <= 1e-9), "component variances must decrease"
    _fit(spark, featurized_lake, "fixed", k=5, variance_target=None)  # refitted in place: the same model
    _, second_bytes, _ = _csv(spark, featurized_lake, "fixed", "second.csv")
    assert first_bytes == second_bytes


def test_the_csv_holds_the_sorted_projection_value_for_value(spark, featurized_lake):
    """Written as a part per core and joined: every row of the projection, in the order of
    split, label and path, each coordinate the very float32 of ``FittedPCA.transform``."""
    assert spark.sparkContext.defaultParallelism >= 2, "the CSV is written in several parts"
    _fit(spark, featurized_lake, "single", k=5, variance_target=None)
    _, joined, _ = _csv(spark, featurized_lake, "single", "joined.csv")
    fitted = FittedPCA.load(spark, f"file://{featurized_lake}/models/single")
    projected = fitted.transform(tables.read(spark, table(featurized_lake, "image_features"), CLASSES))
    expected = projected.orderBy("split", "label", "path").toPandas()
    found = pd.read_csv(io.BytesIO(joined), dtype={"path": str, "label": str, "split": str, **{f"pc_{i}": "float32" for i in range(1, 6)}})
    assert list(found.columns) == list(expected.columns)
    assert found[["path", "label", "split"]].values.tolist() == expected[["path", "label", "split"]].values.tolist()
    np.testing.assert_array_equal(found.filter(like="pc_").to_numpy(), expected.filter(like="pc_").to_numpy())
    assert not list(featurized_lake.glob("joined.csv.parts")), "the parts are removed"


@pytest.mark.fast
def test_csv_lines_read_back_as_the_same_keys_and_float32_values():
    keys = [pa.array(['file:/a/Apple, "Red" 1/x.jpg', "Kiwi\nline", "Pêche d'été"]), pa.array(["A, B", 'q"', ""]),
            pa.array(["Training", "Test", "Training"])]
    rng = np.random.default_rng(0)
    coordinates = np.concatenate([
        np.array([[1.5e-5, -0.0, 3.4e38, 1e-38], [123456789.0, -1.0, 0.1, 1 / 3], [7.0, 2.5e-45, -1e10, 65504.0]]),
        rng.standard_normal((3, 40)) * 10.0 ** rng.integers(-8, 8, (3, 40)),
    ], axis=1).astype(np.float32)
    text = "path,label,split," + ",".join(f"pc_{i + 1}" for i in range(coordinates.shape[1])) + "\n"
    text += "".join(f"{line}\n" for line in csv_lines(keys, coordinates).to_pylist())
    read = pd.read_csv(io.StringIO(text), dtype={"path": str, "label": str, "split": str, **{f"pc_{i + 1}": "float32" for i in range(coordinates.shape[1])}},
                       keep_default_na=False)
    assert read[["path", "label", "split"]].values.T.tolist() == [key.to_pylist() for key in keys]
    np.testing.assert_array_equal(read.filter(like="pc_").to_numpy(), coordinates)
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert [row[:3] for row in rows] == [list(row) for row in zip(*(key.to_pylist() for key in keys))]
    assert all(_significant_digits(v) <= 9 for row in rows for v in row[3:])


def test_a_table_with_deletion_vectors_is_projected_by_deltas_reader(spark, featurized_lake, tmp_path):
    """Its Parquet files still hold the rows it deleted: the CSV leaves them out."""
    _fit(spark, featurized_lake, "dv", k=5, variance_target=None)
    _, every, _ = _csv(spark, featurized_lake, "dv", "every.csv")
    copy = f"file://{tmp_path / 'features'}"
    tables.replace_classes(tables.read(spark, table(featurized_lake, "image_features"), CLASSES, 0), copy, CLASSES, {})
    first = tables.read(spark, copy, CLASSES).orderBy("path").first()
    # Delta 3.3 cannot DELETE with deletion vectors from a table with a column named path
    # (delta-io/delta#2943): the column is renamed for the DELETE, by column mapping
    for sql in ("SET TBLPROPERTIES ('delta.columnMapping.mode' = 'name', 'delta.minReaderVersion' = '2', "
                "'delta.minWriterVersion' = '5', 'delta.enableDeletionVectors' = true)",
                "RENAME COLUMN path TO source_path"):
        spark.sql(f"ALTER TABLE {tables.sql_name(copy)} {sql}")
    spark.sql(f"DELETE FROM {tables.sql_name(copy)} WHERE image_id = '{first['image_id']}'")  # a hex digest
    spark.sql(f"ALTER TABLE {tables.sql_name(copy)} RENAME COLUMN source_path TO path")
    assert tables.data_files(spark, copy, CLASSES) is None
    result = jobs.run(spark, PcaProjectParams(image_features=copy, version=tables.version(spark, copy), classes=CLASSES,
                                              model_dir=f"file://{featurized_lake}/models/dv", csv=f"file://{tmp_path}/dv.csv"))
    assert result.rows == 199
    assert (tmp_path / "dv.csv").read_bytes().splitlines() == [
        line for line in every.splitlines() if not line.startswith(f'"{first["path"]}",'.encode())]


@pytest.mark.fast
def test_a_worker_decodes_a_parquet_file_into_the_lines_of_its_rows(monkeypatch):
    monkeypatch.setattr(projection, "FILE_BATCH", 3)  # 7 rows: 3 batches
    rng = np.random.default_rng(0)
    features = pa.array(list(rng.standard_normal((7, 6)).astype(np.float32)), type=pa.list_(pa.float32()))
    paths, splits = pa.array([f"/s/Training/Kiwi/{i}.jpg" for i in range(7)]), pa.array(["Training", "Test"] * 3 + ["Test"])
    written = pa.BufferOutputStream()
    pq.write_table(pa.table({"image_id": [str(i) for i in range(7)], "path": paths, "split": splits, "features": features}), written)
    file = "file:/lake/image_features/label=Kiwi %231/part-0.parquet"
    content = pa.RecordBatch.from_pydict({"path": [file], "content": [written.getvalue().to_pybytes()]})
    components = np.linalg.qr(rng.standard_normal((6, 3)))[0]

    decoded = list(parquet_csv_projector(components, {file: "Kiwi #1"})(iter([content])))
    rows = pa.RecordBatch.from_pydict({"path": paths, "label": ["Kiwi #1"] * 7, "split": splits, "features": features})
    expected = pa.Table.from_batches(list(csv_projector(components)(iter([rows]))))
    assert [b.num_rows for b in decoded] == [3, 3, 1]
    assert pa.Table.from_batches(decoded).equals(expected)


@pytest.mark.fast
@pytest.mark.parametrize("projector", [csv_projector(np.eye(3)), parquet_csv_projector(np.eye(3), {})])
def test_a_worker_unpickling_a_csv_projector_imports_no_pyspark_ml(projector):
    """What a Python worker imports to project and write the CSV's lines: numpy and pyarrow,
    not pyspark.ml (about 0.3 s per worker)."""
    loaded = modules_a_worker_imports(projector, ("fruits_assets", "pyspark.ml"))
    assert "fruits_assets.spark_jobs.projection" in loaded
    assert not [m for m in loaded if m.startswith("pyspark.ml")], loaded


def test_coordinates_are_those_of_pcamodel_transform(spark, featurized_lake):
    _fit(spark, featurized_lake, "transform", k=5, variance_target=None)
    fitted = FittedPCA.load(spark, f"file://{featurized_lake}/models/transform")
    model = PCAModel.load(f"file://{featurized_lake}/models/transform").setInputCol("_v").setOutputCol("_pca")
    features = tables.read(spark, table(featurized_lake, "image_features"), CLASSES)
    ours = fitted.transform(features).orderBy("path").toPandas()
    spark_ml = model.transform(features.withColumn("_v", array_to_vector("features")))
    theirs = np.stack(spark_ml.orderBy("path").select(vector_to_array("_pca").alias("c")).toPandas()["c"])
    coordinates = ours[[f"pc_{i}" for i in range(1, 6)]].to_numpy()
    assert coordinates.dtype == np.float32
    scale = np.linalg.norm(theirs, axis=1, keepdims=True)
    # theirs rounded to float32: within half a float32 step, give or take the products' rounding
    assert np.all(np.abs(coordinates - theirs) <= np.abs(theirs) * 2.0**-24 + 1e-13 * scale)


def test_fewer_than_two_training_images_fit_on_every_image(spark, real_sample, lake, tmp_path):
    source = tmp_path / "source"
    for i, path in enumerate(sorted((real_sample / "Test" / "Cherry 1").glob("*.jpg"))[:4]):
        (source / "Test" / "Cherry 1").mkdir(parents=True, exist_ok=True)
        (source / "Test" / "Cherry 1" / path.name).write_bytes(path.read_bytes())
    run_images(spark, source, lake, ["Cherry 1"])
    fit = jobs.run(spark, PcaFitParams(image_features=table(lake, "image_features"), version=0, classes=["Cherry 1"],
                                       model_dir=f"file://{lake}/models/p", k=2, variance_target=None))
    assert fit.fitted_on.startswith("every image") and fit.train_rows == 4


@pytest.mark.fast
def test_an_images_coordinates_do_not_depend_on_its_batch():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((300, 1280)).astype(np.float32)
    components = np.linalg.qr(rng.standard_normal((1280, 153)))[0]  # the 50,000-image k: two threads split it
    features = pa.array(list(rows), type=pa.list_(pa.float32()))
    every = project_rows(features, components)
    for start, stop in ((1, 300), (7, 140), (129, 130), (250, 300)):
        np.testing.assert_array_equal(project_rows(features[start:stop], components), every[start:stop])
    np.testing.assert_allclose(every, rows.astype(np.float64) @ components, rtol=0, atol=1e-12)


@pytest.mark.fast
def test_rows_without_every_feature_are_refused():
    components = np.eye(3)
    with pytest.raises(ValueError, match="3 feature values"):
        project_rows(pa.array([[1.0, 2.0, 3.0], [1.0, 2.0]], type=pa.list_(pa.float32())), components)
    with pytest.raises(ValueError, match="3 feature values"):
        project_rows(pa.array([[1.0, 2.0, 3.0], None], type=pa.list_(pa.float32())), components)


@pytest.mark.fast
@pytest.mark.parametrize(
    "k,target,message",
    [(0, None, "1..1280"), (1281, None, "1..1280"), (None, 0.0, r"\(0, 1\]"), (None, 1.5, r"\(0, 1\]"),
     (None, None, "Set either")],
)
def test_bad_settings_fail_before_spark(k, target, message):
    with pytest.raises(ValueError, match=message):
        check_settings(k, target)


@pytest.fixture(scope="module")
def whole_sample_lake(spark, real_sample, tmp_path_factory, model_cache):
    lake = seed_lake(tmp_path_factory.mktemp("pca-all"), model_cache)
    run_images(spark, real_sample, lake, sorted(p.name for p in (real_sample / "Training").iterdir()))
    return lake


def test_every_fit_finds_the_spectrum_numpy_finds(spark, whole_sample_lake):
    """The model's spectrum is numpy's, on every fit, for the 960 Training rows of the
    whole sample (seed-0 random weights)."""
    classes = sorted(p.name for p in (whole_sample_lake / "tables" / "raw_images").iterdir() if p.is_dir())
    classes = [c.removeprefix("label=") for c in classes]
    rows = tables.read(spark, table(whole_sample_lake, "image_features"), classes)
    train = np.stack(rows.where("split = 'Training'").select("features").toPandas()["features"]).astype(np.float64)
    expected = np.clip(np.linalg.eigvalsh(np.cov(train.T))[::-1], 0, None)
    expected /= expected.sum()
    for attempt in range(3):
        fit = jobs.run(spark, PcaFitParams(image_features=table(whole_sample_lake, "image_features"), version=0,
                                           classes=classes, model_dir=f"file://{whole_sample_lake}/models/{attempt}"))
        assert fit.k == int(np.searchsorted(np.cumsum(expected), 0.95 - 1e-12) + 1)
        np.testing.assert_allclose(fit.explained_variance, expected[: fit.k], rtol=1e-6, atol=1e-12)
