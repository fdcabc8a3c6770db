"""Re-runs do only new work: unchanged classes are neither read nor inferred again, a
changed file is the only image sent through the network again, a model change
recomputes every feature, and the PCA is refitted only when features changed."""

import shutil
from dataclasses import replace

import numpy as np
from PIL import Image

from fruits_assets.spark_jobs import jobs
from fruits_assets.spark_jobs.contracts import FeaturizeParams, FeaturizeResult, PcaFitParams, PcaProjectParams
from fruits_assets.spark_jobs.mobilenet import ModelSpec
from fruits_assets_tests.conftest import RANDOM_MODEL, lake_uri, run_images

CLASSES = ["Apple Red 1", "Cherry 1", "Tomato 1"]


def _source(real_sample, tmp_path):
    source = tmp_path / "source"
    for split in ("Training", "Test"):
        for cls in CLASSES:
            shutil.copytree(real_sample / split / cls, source / split / cls)
    return source


def _featurize(spark, lake, model=RANDOM_MODEL) -> FeaturizeResult:
    return jobs.run(spark, FeaturizeParams(lake_root=lake_uri(lake), classes=CLASSES, model=ModelSpec(**model)))


def test_second_run_reads_and_infers_nothing_and_a_changed_file_alone_is_inferred(spark, real_sample, lake, tmp_path):
    source = _source(real_sample, tmp_path)
    ingested, featurized = run_images(spark, source, lake, CLASSES)
    total = featurized.rows
    assert featurized.inferred == total == ingested.ingested and featurized.reused == 0

    again, refeaturized = run_images(spark, source, lake, CLASSES)
    assert again.scanned_files == 0 and again.unchanged_classes == CLASSES
    assert refeaturized.inferred == refeaturized.reused == 0
    assert refeaturized.unchanged_classes == CLASSES and refeaturized.model_builds_by_worker == {}
    assert {c: m.ingested for c, m in again.classes.items()} == {c: m.ingested for c, m in ingested.classes.items()}
    assert all(again.classes[c].unchanged for c in CLASSES)

    changed = sorted((source / "Training" / CLASSES[1]).iterdir())[0]
    Image.fromarray(np.asarray(Image.open(changed))[::-1].copy()).save(changed, format="JPEG")
    third, features = run_images(spark, source, lake, CLASSES)
    assert third.unchanged_classes == [CLASSES[0], CLASSES[2]]
    assert third.scanned_files == third.classes[CLASSES[1]].files
    work = features.classes[CLASSES[1]]
    assert (work.inferred, work.reused) == (1, work.rows - 1), "only the changed image goes through the network"
    assert features.inferred == 1 and features.unchanged_classes == [CLASSES[0], CLASSES[2]]


def test_a_model_change_recomputes_every_feature(spark, real_sample, lake):
    _, first = run_images(spark, real_sample, lake, CLASSES)
    other = _featurize(spark, lake, {**RANDOM_MODEL, "seed": RANDOM_MODEL.get("seed", 0) + 1})
    assert other.model != first.model
    assert other.inferred == first.rows and other.reused == 0 and other.unchanged_classes == []


def test_pca_is_refitted_only_when_features_change(spark, real_sample, lake):
    run_images(spark, real_sample, lake, CLASSES)
    params = PcaFitParams(lake_root=lake_uri(lake), classes=CLASSES, k=3, variance_target=None)
    fitted = jobs.run(spark, params)
    matrix = jobs.run(spark, PcaProjectParams(lake_root=lake_uri(lake)))
    assert not fitted.unchanged and not matrix.unchanged
    kept, kept_matrix = jobs.run(spark, params), jobs.run(spark, PcaProjectParams(lake_root=lake_uri(lake)))
    assert kept.unchanged and kept.uri == fitted.uri and kept_matrix.uri == matrix.uri
    assert not jobs.run(spark, replace(params, k=4)).unchanged, "new settings refit"
    jobs.run(spark, FeaturizeParams(lake_root=lake_uri(lake), classes=CLASSES[:1], model=ModelSpec(**RANDOM_MODEL), force=True))
    refitted = jobs.run(spark, replace(params, k=4))
    assert not refitted.unchanged, "new features refit"
    assert not jobs.run(spark, PcaProjectParams(lake_root=lake_uri(lake))).unchanged
