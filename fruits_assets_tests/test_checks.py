"""Asset checks: all pass on good data (bar the random-weights warning), and each
one fails when a test corrupts the data it guards. Corrupt data is committed through
the lake's own writer, which measures what it writes: the checks read only those
measurements (and a fresh listing of the source)."""

import json
import shutil

import pytest
from dagster import AssetSelection, DagsterInstance, Definitions, build_op_context, define_asset_job
from dagster._core.execution.context.invocation import DirectAssetCheckExecutionContext
from pyspark.sql import functions as F

from fruits_assets import checks
from fruits_assets.jobs import IMAGE_ASSETS
from fruits_assets.partitions import range_tags
from fruits_assets.assets import ALL_ASSETS
from fruits_assets.resources import FruitSource, LakeIOManager, LakeResource, LocalSpark, MobileNetResource
from fruits_assets.spark_jobs import jobs
from fruits_assets.spark_jobs.contracts import PcaProjectParams
from fruits_assets.spark_jobs.pca import FittedPCA
from fruits_assets.spark_jobs.versioned import COMMITTED, VersionedLake
from fruits_assets_tests.conftest import RANDOM_MODEL, lake_uri, seed_lake

pytestmark = pytest.mark.slow

CLASSES = ["Cherry Sour 1", "Tomato Cherry Yellow 1"]
CLASS = CLASSES[0]
LOCAL = LocalSpark(master="local[2]")


def _resources(source, lake) -> dict:
    lake_resource = LakeResource(root=str(lake))
    return {
        "lake": lake_resource,
        "source": FruitSource(root=str(source)),
        "spark": LOCAL,
        "model": MobileNetResource(**RANDOM_MODEL),
        "lake_io_manager": LakeIOManager(lake=lake_resource, spark=LOCAL, model=MobileNetResource(**RANDOM_MODEL)),
    }


@pytest.fixture(scope="module")
def good(tmp_path_factory, real_sample, model_cache, spark):
    """Every asset materialized with its checks over two real classes, once per module."""
    root = tmp_path_factory.mktemp("checks")
    source, lake = root / "source", seed_lake(root / "lake", model_cache)
    for split in ("Training", "Test"):
        for cls in CLASSES:
            shutil.copytree(real_sample / split / cls, source / split / cls)
    defs = Definitions(
        assets=ALL_ASSETS,
        asset_checks=checks.ALL_CHECKS,
        jobs=[
            define_asset_job("images", AssetSelection.assets(*IMAGE_ASSETS)),
            define_asset_job("pca", AssetSelection.assets("pca_model", "pca_matrix", "fruit_classifier")),
        ],
        resources=_resources(source, lake),
    )
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", CLASSES)
    tags = range_tags(CLASSES[0], CLASSES[-1])
    images = defs.resolve_job_def("images").execute_in_process(instance=instance, tags=tags)
    pca = defs.resolve_job_def("pca").execute_in_process(instance=instance)
    evaluations = images.get_asset_check_evaluations() + pca.get_asset_check_evaluations()
    return {"source": source, "lake": lake, "instance": instance,
            "evaluations": {e.check_name: e for e in evaluations}}


@pytest.fixture
def world(good, tmp_path):
    """A private copy of the good source and lake, free to corrupt."""
    source, lake = tmp_path / "source", tmp_path / "lake"
    shutil.copytree(good["source"], source)
    shutil.copytree(good["lake"], lake)
    return {"source_dir": source, "lake_dir": lake, "instance": good["instance"], **_resources(source, lake)}


def _check(world, check, partition: str | None = CLASS):
    """Run one check's function on ``world`` (a partitioned check on one class)."""
    wanted = {n for n in ("spark", "lake", "source") if n in check.required_resource_keys}
    kwargs = {n: world[n] for n in wanted}
    if partition is None and "spark" not in wanted:
        return check(**kwargs)
    context = DirectAssetCheckExecutionContext(
        build_op_context(partition_key=partition, instance=world["instance"])
    )
    return check(context, **kwargs)


def _rewrite(spark, world, table: str, change) -> None:
    """Commit a new version of ``table``/CLASS holding ``change(current rows)``, through
    ``write_by_class`` as the jobs write (so it is measured as it is written)."""
    lake = VersionedLake(spark, lake_uri(world["lake_dir"]))
    rows = change(lake.read_parquet(table, [CLASS]))
    kept = {k: v for k, v in lake.manifest(table, CLASS).items() if k not in ("rows", "distinct_ids", "bad_vectors", "all_vectors_equal")}
    lake.write_by_class(rows, table, [CLASS], rows.schema, kept)


def _edit_manifest(world, table: str, partition: str | None, change) -> None:
    """Change the current manifest of ``table`` in place."""
    lake = LakeResource(root=str(world["lake_dir"]))
    path = world["lake_dir"] / lake.current_version(table, partition) / COMMITTED
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def test_all_checks_pass_on_good_data_except_the_weights_warning(good):
    evaluations = good["evaluations"]
    assert set(evaluations) == {c.check_key.name for c in checks.ALL_CHECKS}
    failed = {name for name, e in evaluations.items() if not e.passed}
    assert failed == {"features_from_imagenet_weights"}
    assert evaluations["features_from_imagenet_weights"].severity.value == "WARN"


def test_direct_invocation_passes_on_good_data(world):
    for check in checks.ALL_CHECKS:
        if check is not checks.features_from_imagenet_weights:
            partition = CLASS if check.partitions_def else None
            assert _check(world, check, partition).passed, check.check_key.name


def test_file_added_after_ingest_is_not_accounted_for(world):
    shutil.copy(next((world["source_dir"] / "Training" / CLASS).glob("*.jpg")), world["source_dir"] / "Training" / CLASS / "new.jpg")
    assert not _check(world, checks.every_file_accounted_for).passed


def test_duplicated_raw_row_fails_unique_ids(spark, world):
    _rewrite(spark, world, "raw_images", lambda rows: rows.unionByName(rows.limit(1)))
    assert not _check(world, checks.unique_image_ids).passed


def test_missing_feature_row_fails(spark, world):
    _rewrite(spark, world, "image_features", lambda rows: rows.orderBy("path").offset(1))
    assert not _check(world, checks.one_feature_row_per_image).passed


BAD_FIRST_VALUES = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "null": None}


@pytest.mark.parametrize("bad", [*BAD_FIRST_VALUES, "short"])
def test_bad_vector_fails(spark, world, bad):
    if bad == "short":
        broken = F.slice("features", 1, 1279)
    else:
        broken = F.concat(F.array(F.lit(BAD_FIRST_VALUES[bad]).cast("float")), F.slice("features", 2, 1279))
    first = F.col("path") == F.lit(min(r.path for r in VersionedLake(spark, lake_uri(world["lake_dir"])).read_parquet("image_features", [CLASS]).select("path").collect()))
    _rewrite(spark, world, "image_features", lambda rows: rows.withColumn("features", F.when(first, broken).otherwise(F.col("features"))))
    assert not _check(world, checks.features_are_1280_finite_values).passed


def test_constant_features_fail(spark, world):
    _rewrite(spark, world, "image_features", lambda rows: rows.withColumn("features", F.array_repeat(F.lit(0.5).cast("float"), 1280)))
    assert not _check(world, checks.features_not_constant).passed


def test_constant_check_reads_the_spread_of_older_versions(world):
    _edit_manifest(world, "image_features", CLASS, lambda m: {k: v for k, v in m.items() if k != "all_vectors_equal"} | {"spread": 0.0})
    assert not _check(world, checks.features_not_constant).passed
    _edit_manifest(world, "image_features", CLASS, lambda m: m | {"spread": 0.25})
    assert _check(world, checks.features_not_constant).passed


def test_weights_warning_passes_only_for_imagenet(world):
    assert not _check(world, checks.features_from_imagenet_weights).passed
    _edit_manifest(world, "image_features", CLASS, lambda m: {**m, "weights": "imagenet"})
    assert _check(world, checks.features_from_imagenet_weights).passed


def test_variance_target_not_reached_fails(world):
    _edit_manifest(world, "pca_model", None,
                   lambda m: {**m, "cumulative_variance": [*m["cumulative_variance"][:-1], m["variance_target"] - 0.1]})
    assert not _check(world, checks.variance_target_reached, partition=None).passed


def test_features_changed_after_the_csv_fail_its_row_check(spark, world):
    _rewrite(spark, world, "image_features", lambda rows: rows.orderBy("path").offset(1))
    assert not _check(world, checks.one_row_per_feature_row_and_k_columns, partition=None).passed


def test_csv_written_without_its_last_column_fails(spark, world, monkeypatch):
    transform = FittedPCA.transform
    monkeypatch.setattr(FittedPCA, "transform", lambda self, features: transform(self, features).drop(f"pc_{self.k}"))
    jobs.run(spark, PcaProjectParams(lake_root=lake_uri(world["lake_dir"]), force=True))
    assert not _check(world, checks.one_row_per_feature_row_and_k_columns, partition=None).passed
