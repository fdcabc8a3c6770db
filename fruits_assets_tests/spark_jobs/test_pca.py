"""PCA: k by target and fixed, variance, a parallel covariance that gives the same CSV bytes
every run, sign determinism, the CSV contract."""

import io
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pyspark.ml.functions import array_to_vector, vector_to_array

from fruits_assets.spark_jobs import jobs
from fruits_assets.spark_jobs.contracts import PcaFitParams, PcaProjectParams
from fruits_assets.spark_jobs.pca import FittedPCA, check_settings, project_rows
from fruits_assets.spark_jobs.versioned import VersionedLake
from fruits_assets_tests.conftest import lake_uri, run_images, seed_lake

CLASSES = ["Apple Red 1", "Cherry 2", "Tomato Maroon 1", "Tomato Yellow 1"]


@pytest.fixture(scope="module")
def featurized_lake(spark, real_sample, tmp_path_factory, model_cache):
    lake = seed_lake(tmp_path_factory.mktemp("pca-lake"), model_cache)
    run_images(spark, real_sample, lake, CLASSES)
    return lake


def _csv(spark, lake, force: bool = False) -> tuple[pd.DataFrame, bytes]:
    metrics = jobs.run(spark, PcaProjectParams(lake_root=lake_uri(lake), force=force))
    data = VersionedLake(spark, lake_uri(lake)).fs.read_bytes(metrics.csv)
    return pd.read_csv(io.BytesIO(data)), data


def test_k_by_variance_target(spark, featurized_lake):
    fit = jobs.run(spark, PcaFitParams(lake_root=lake_uri(featurized_lake), classes=CLASSES, variance_target=0.9))
    cumulative = np.asarray(fit.cumulative_variance)
    assert cumulative[-1] >= 0.9 and (fit.k == 1 or cumulative[-2] < 0.9)
    assert len(fit.explained_variance) == fit.k
    assert np.all(np.diff(fit.explained_variance) <= 1e-12), "explained variance must not increase"
    assert fit.train_rows == 160

    matrix, _ = _csv(spark, featurized_lake)
    assert list(matrix.columns) == ["path", "label", "split"] + [f"pc_{i}" for i in range(1, fit.k + 1)]
    assert len(matrix) == 200
    assert set(matrix["split"]) == {"Training", "Test"} and set(matrix["label"]) == set(CLASSES)


def test_fixed_k_and_deterministic_csv(spark, featurized_lake):
    params = PcaFitParams(lake_root=lake_uri(featurized_lake), classes=CLASSES, k=5, variance_target=None)
    fit = jobs.run(spark, params)
    assert fit.k == 5
    assert fit.covariance_partitions >= 2, "the covariance is summed in parallel"
    first, first_bytes = _csv(spark, featurized_lake)
    assert first.shape == (200, 8)
    training = first[first["split"] == "Training"][[f"pc_{i}" for i in range(1, 6)]]
    variances = training.var().to_numpy()
    assert np.all(np.diff(variances) <= 1e-9), "component variances must decrease"

    refit = jobs.run(spark, replace(params, force=True))
    assert refit.uri != fit.uri, "a forced refit computes a new version"
    _, second_bytes = _csv(spark, featurized_lake, force=True)
    assert first_bytes == second_bytes


def test_the_csv_is_sparks_own_single_file_csv_of_the_sorted_projection(spark, featurized_lake, tmp_path):
    """Written as a part per core and joined: the same bytes as one sorted file."""
    assert spark.sparkContext.defaultParallelism >= 2, "the CSV is written in several parts"
    jobs.run(spark, PcaFitParams(lake_root=lake_uri(featurized_lake), classes=CLASSES, k=5, variance_target=None))
    result = jobs.run(spark, PcaProjectParams(lake_root=lake_uri(featurized_lake), force=True))
    lake = VersionedLake(spark, lake_uri(featurized_lake))
    fitted = FittedPCA.load(spark, lake.current("pca_model"))
    projected = fitted.transform(lake.read_parquet("image_features", CLASSES))
    single = f"file://{tmp_path}/single"
    projected.orderBy("split", "label", "path").coalesce(1).write.option("header", True).csv(single)
    (part,) = [p for p in (tmp_path / "single").iterdir() if p.name.startswith("part-")]
    assert lake.fs.read_bytes(result.csv) == part.read_bytes()
    assert not [n for n, _ in lake.fs.list_dir(result.uri) if n.endswith(".parts")], "the parts are removed"


def test_coordinates_are_those_of_pcamodel_transform(spark, featurized_lake):
    jobs.run(spark, PcaFitParams(lake_root=lake_uri(featurized_lake), classes=CLASSES, k=5, variance_target=None))
    lake = VersionedLake(spark, lake_uri(featurized_lake))
    fitted = FittedPCA.load(spark, lake.current("pca_model"))
    features = lake.read_parquet("image_features", CLASSES)
    ours = fitted.transform(features).orderBy("path").toPandas()
    spark_ml = fitted.model.transform(features.withColumn("_v", array_to_vector("features")))
    theirs = np.stack(spark_ml.orderBy("path").select(vector_to_array("_pca").alias("c")).toPandas()["c"]) * fitted.signs
    coordinates = ours[[f"pc_{i}" for i in range(1, 6)]].to_numpy()
    scale = np.linalg.norm(theirs, axis=1, keepdims=True)
    assert np.all(np.abs(coordinates - theirs) <= 1e-13 * scale)


def test_an_images_coordinates_do_not_depend_on_its_batch():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((300, 1280)).astype(np.float32)
    components = np.linalg.qr(rng.standard_normal((1280, 153)))[0]  # the 50,000-image k: two threads split it
    features = pa.array(list(rows), type=pa.list_(pa.float32()))
    every = project_rows(features, components)
    for start, stop in ((1, 300), (7, 140), (129, 130), (250, 300)):
        np.testing.assert_array_equal(project_rows(features[start:stop], components), every[start:stop])
    np.testing.assert_allclose(every, rows.astype(np.float64) @ components, rtol=0, atol=1e-12)


def test_rows_without_every_feature_are_refused():
    components = np.eye(3)
    with pytest.raises(ValueError, match="3 feature values"):
        project_rows(pa.array([[1.0, 2.0, 3.0], [1.0, 2.0]], type=pa.list_(pa.float32())), components)
    with pytest.raises(ValueError, match="3 feature values"):
        project_rows(pa.array([[1.0, 2.0, 3.0], None], type=pa.list_(pa.float32())), components)


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
    classes = sorted(p.name for p in (real_sample / "Training").iterdir())
    run_images(spark, real_sample, lake, classes, model={"weights": "random", "seed": 0})
    return lake


@pytest.mark.slow
def test_every_fit_finds_the_spectrum_numpy_finds(spark, whole_sample_lake):
    """Spark's own PCA.fit (pure-Java LAPACK) returned a wrong, near-flat spectrum on
    some calls for these 960 Training rows (features of seed-0 weights); every fit
    must agree with numpy."""
    lake = VersionedLake(spark, lake_uri(whole_sample_lake))
    classes = lake.committed_partitions("image_features")
    rows = lake.read_parquet("image_features", classes)
    train = np.stack(rows.where("split = 'Training'").select("features").toPandas()["features"]).astype(np.float64)
    expected = np.clip(np.linalg.eigvalsh(np.cov(train.T))[::-1], 0, None)
    expected /= expected.sum()
    params = PcaFitParams(lake_root=lake_uri(whole_sample_lake), classes=classes, variance_target=0.95)
    for _ in range(4):
        fit = jobs.run(spark, params)
        assert fit.k == int(np.searchsorted(np.cumsum(expected), 0.95 - 1e-12) + 1)
        np.testing.assert_allclose(fit.explained_variance, expected[: fit.k], rtol=1e-6, atol=1e-12)
