"""Featurization: contract, determinism, broadcast, one model per worker, backends."""

import numpy as np
import pytest
from pyspark import SparkContext

from fruits_assets.spark_jobs import feature_udf, jobs, mobilenet, tables
from fruits_assets.spark_jobs.contracts import FeaturizeParams
from fruits_assets.spark_jobs.images import decode
from fruits_assets_tests.conftest import RANDOM_MODEL, modules_a_worker_imports, network, raw_rows, run_images, table

CLASSES = ["Apple Golden 1", "Cherry Rainier 1", "Tomato Heart 1"]


def _features(spark, lake, classes=CLASSES) -> dict[str, np.ndarray]:
    rows = tables.read(spark, table(lake, "image_features"), classes).collect()
    return {r.image_id: np.asarray(r.features, dtype=np.float32) for r in rows}


def _featurize(spark, lake, classes=CLASSES, backend="litert", **settings):
    uri, spec = network(lake, backend)
    counted = raw_rows(lake, [*classes, *settings.get("measure", [])])
    return jobs.run(spark, FeaturizeParams(
        raw_images=table(lake, "raw_images"), image_features=table(lake, "image_features"), network=uri,
        classes=classes, raw_rows=counted, model=spec, **settings))


def _files(lake, cls: str) -> list:
    return list((lake / "tables" / "image_features" / f"label={cls}").glob("part-*"))


def _last_plan_with_model(spark) -> str:
    """The physical plan tree of the latest query that ran a Python UDF."""
    executions = spark._jsparkSession.sharedState().statusStore().executionsList()
    plans = [executions.apply(i).physicalPlanDescription() for i in range(executions.size())]
    return [p for p in plans if "ArrowEvalPython" in p][-1].split("\n\n")[0]


@pytest.fixture
def broadcasts(monkeypatch):
    calls = []
    original = SparkContext.broadcast

    def counting(self, value):
        calls.append(len(value) if isinstance(value, bytes) else value)
        return original(self, value)

    monkeypatch.setattr(SparkContext, "broadcast", counting)
    return calls


def test_features_contract_and_determinism(spark, real_sample, lake, broadcasts):
    _, first = run_images(spark, real_sample, lake, CLASSES)
    features = _features(spark, lake)
    assert len(features) == first.rows == 150
    matrix = np.stack(list(features.values()))
    assert matrix.shape == (150, 1280) and matrix.dtype == np.float32
    assert np.isfinite(matrix).all()
    assert matrix.std(axis=0).max() > 0, "features must vary between images"

    # one broadcast of the whole model per job, and each Python worker built it once
    assert len(broadcasts) == 1 and broadcasts[0] > 1_000_000
    builds = first.model_builds_by_worker
    assert builds and set(builds.values()) == {1}
    assert first.tasks >= len(builds)

    # tasks hold consecutive classes: a file per class and task boundary, and no shuffle of the features
    files = [f for c in CLASSES for f in _files(lake, c)]
    assert len(files) <= len(CLASSES) + first.tasks - 1
    above_model = _last_plan_with_model(spark).split("ArrowEvalPython")[0]
    assert "Exchange" not in above_model, above_model
    assert {c: (m.rows, m.raw_rows, m.distinct_ids, m.bad_vectors, m.all_vectors_equal) for c, m in first.classes.items()} \
        == {c: (50, 50, 50, 0, False) for c in CLASSES}

    second = _featurize(spark, lake, force=True)
    assert len(broadcasts) == 2 and second.inferred == 150 and second.reused == 0
    again = _features(spark, lake)
    assert again.keys() == features.keys()
    assert all(np.array_equal(features[k], again[k]) for k in features)


def test_features_of_the_same_model_are_reused_by_content_id(spark, real_sample, lake):
    _, first = run_images(spark, real_sample, lake, CLASSES)
    assert first.inferred == 150 and first.reused == 0
    again = _featurize(spark, lake, CLASSES[:2], chunk_rows=1)
    assert again.inferred == 0 and again.reused == 100 and again.commits == 2, "a commit per class: rows_per_commit 1"
    named = _featurize(spark, lake, CLASSES[:2], reusable=CLASSES[1:2])
    assert named.classes[CLASSES[0]].inferred == 50 and named.classes[CLASSES[1]].reused == 50, \
        "features are reused only in the classes named reusable"
    assert "Join" in _last_plan_with_model(spark)
    none = _featurize(spark, lake, CLASSES[:1], reusable=[])
    assert none.inferred == 50 and "Join" not in _last_plan_with_model(spark), "nothing to reuse: no join"
    other = _featurize(spark, lake, CLASSES[:1], backend="keras")
    assert other.inferred == 50 and other.reused == 0, "another model computes every feature again"


def test_classes_to_measure_are_measured_as_the_table_holds_them(spark, real_sample, lake):
    run_images(spark, real_sample, lake, CLASSES)
    version = tables.version(spark, table(lake, "image_features"))
    measured = _featurize(spark, lake, classes=[], measure=CLASSES[:1])
    assert measured.classes[CLASSES[0]].rows == 50 and measured.classes[CLASSES[0]].inferred == 0
    assert tables.version(spark, table(lake, "image_features")) == version, "measuring writes nothing"


def test_keras_and_litert_agree_on_real_images(real_sample, model_cache):
    spec = mobilenet.ModelSpec(**RANDOM_MODEL)
    files = sorted((real_sample / "Training").glob("*/*.jpg"))[::40][:24]
    images = np.stack([decode(f.read_bytes(), spec.image_size) for f in files])
    litert_bytes = (model_cache / (mobilenet.cache_key(spec, "random") + ".bin")).read_bytes()
    keras_spec = mobilenet.ModelSpec(**RANDOM_MODEL, backend="keras")
    keras_bytes = (model_cache / (mobilenet.cache_key(keras_spec, "random") + ".bin")).read_bytes()
    lite = mobilenet.runner(spec, litert_bytes, threads=2)(images)
    reference = mobilenet.runner(keras_spec, keras_bytes, threads=2)(images)
    assert reference.std() > 0.01, "weights must not be degenerate"
    relative = np.abs(lite - reference).max() / np.abs(reference).max()
    assert relative <= 1e-4


def test_features_do_not_depend_on_the_batch_size(real_sample, model_cache):
    """The batch is how the network is run, not what it computes: it is not in the model id."""
    spec = mobilenet.ModelSpec(**RANDOM_MODEL).validate()
    assert spec.batch_size == mobilenet.BEST_BATCH["litert"]
    assert mobilenet.ModelSpec(**RANDOM_MODEL, backend="keras").validate().batch_size == mobilenet.BEST_BATCH["keras"]
    files = sorted((real_sample / "Training").glob("*/*.jpg"))[::50][:24]
    images = np.stack([decode(f.read_bytes(), spec.image_size) for f in files])
    payload = (model_cache / (mobilenet.cache_key(spec, "random") + ".bin")).read_bytes()
    one_at_a_time = mobilenet.runner(spec, payload, threads=1)
    whole_batch = mobilenet.runner(spec, payload, threads=2)
    singles = np.concatenate([one_at_a_time(images[i : i + 1]) for i in range(len(images))])
    assert np.array_equal(singles, whole_batch(images))


def test_auto_weights_fall_back_to_random_loudly(caplog, monkeypatch):

    monkeypatch.setattr(mobilenet, "architecture", _failing_on_imagenet(mobilenet.architecture))
    model, used = mobilenet.build_keras(mobilenet.ModelSpec(weights="auto"))
    assert used == "random"
    assert "IMAGENET WEIGHTS NOT OBTAINABLE" in caplog.text
    with pytest.raises(RuntimeError, match="ImageNet weights could not be loaded"):
        mobilenet.build_keras(mobilenet.ModelSpec(weights="imagenet"))


def _failing_on_imagenet(real):
    def architecture(image_size, input_size, weights):
        if weights == "imagenet":
            raise OSError("URL fetch failure: no network")
        return real(image_size, input_size, weights)

    return architecture


def test_weights_file_is_loaded(tmp_path):
    spec = mobilenet.ModelSpec(weights="random", seed=3)
    model, _ = mobilenet.build_keras(spec)
    path = tmp_path / "mobilenet_v2_no_top.weights.h5"
    model.layers[-1].save_weights(path)
    loaded, used = mobilenet.build_keras(mobilenet.ModelSpec(weights=str(path)))
    assert used.startswith("file:")
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.fast
@pytest.mark.parametrize(
    "settings,message",
    [({"weights": "/nope/weights.h5"}, "does not exist"), ({"backend": "onnx"}, "Unknown backend"),
     ({"input_size": 4}, "input_size"), ({"batch_size": -1}, "batch_size")],
)
def test_bad_model_settings_fail_fast(settings, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        mobilenet.ModelSpec(**settings).validate()


def test_one_image_is_one_task_and_one_file(spark, real_sample, lake, tmp_path):
    source = tmp_path / "source"
    (source / "Training" / "Kiwi").mkdir(parents=True)
    first_image = sorted((real_sample / "Training" / "Cherry 1").glob("*.jpg"))[0]
    (source / "Training" / "Kiwi" / "one.jpg").write_bytes(first_image.read_bytes())

    _, featurized = run_images(spark, source, lake, ["Kiwi"])

    assert featurized.rows == 1 and featurized.tasks == 1
    assert len(_files(lake, "Kiwi")) == 1


def test_a_worker_unpickling_the_udf_imports_no_job_module_and_no_plotting(spark):
    """What a Python worker imports to run the UDF (unpickled as Spark pickles it): the
    network and image modules, not the package of jobs (matplotlib, pyspark.ml: about
    0.6 s per worker)."""
    udf = feature_udf.make_udf(mobilenet.ModelSpec(weights="random"), None, 1, None, None)
    loaded = modules_a_worker_imports(udf.func, ("fruits_assets", "matplotlib", "pyspark.ml"))
    assert "fruits_assets.spark_jobs.feature_udf" in loaded
    assert not [m for m in loaded if m.startswith(("fruits_assets.spark_jobs.jobs", "matplotlib", "pyspark.ml"))], loaded
