"""vacuum_lake: Delta's VACUUM deletes the files no version within the retention reads,
the tables stay readable at their current version, and superseded model and CSV versions
go while the current one stays."""

from dagster import AssetKey, DagsterInstance
from deltalake import DeltaTable

from fruits_assets.partitions import range_tags
from fruits_assets_tests.corpus import tiny_source

CLASSES = ["Synthetic Apple Red", "Synthetic Banana"]
NO_RETENTION = {"ops": {op: {"config": {"retention_hours": 0}} for op in ("vacuum_tables", "remove_superseded_versions")}}


def test_vacuum_deletes_what_no_current_version_reads(project, lake, tmp_path, spark):
    source = tiny_source(tmp_path / "source")
    defs, instance = project(lake, source), DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", CLASSES)
    images = defs.resolve_job_def("images_by_class")
    refit = defs.resolve_job_def("refit_model")
    tags = range_tags(CLASSES[0], CLASSES[-1])
    assert images.execute_in_process(instance=instance, tags=tags).success
    assert refit.execute_in_process(instance=instance, run_config={"ops": {"pca_model": {"config": {"k": 2}}}}).success
    forced = {"ops": {"raw_images": {"config": {"force": True}}, "image_features": {"config": {"force": True}}}}
    assert images.execute_in_process(instance=instance, tags=tags, run_config=forced).success  # every file rewritten
    assert refit.execute_in_process(instance=instance, run_config={"ops": {"pca_model": {"config": {"k": 3}}}}).success
    features = lake / "tables" / "image_features"
    before = set(features.rglob("*.parquet"))
    assert len(list((lake / "models" / "pca_model").iterdir())) == 2

    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")  # a test: no 7-day wait
    try:
        vacuumed = defs.resolve_job_def("vacuum_lake").execute_in_process(instance=instance, run_config=NO_RETENTION)
    finally:
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "true")
    assert vacuumed.success
    after = set(features.rglob("*.parquet"))
    assert after < before, "the files of the replaced version are deleted"
    table = DeltaTable(str(features))
    assert {f.split("/")[-1] for f in table.file_uris()} == {p.name for p in after}, "the current version is whole"
    assert len(table.to_pandas()) == 8
    assert {entry["operation"] for entry in table.history(2)} == {"VACUUM START", "VACUUM END"}
    (current,) = (lake / "models" / "pca_model").iterdir()
    latest = instance.get_latest_materialization_event(AssetKey("pca_model"))
    assert latest.asset_materialization.metadata["dagster/uri"].value.endswith(current.name)
