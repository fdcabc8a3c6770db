"""``vacuum_lake``: Delta's VACUUM on every table, and the superseded versions of the
unpartitioned assets' files, both after RETENTION_HOURS (Delta's default, 7 days: a
reader of an older version, a notebook say, keeps its files that long). ``migrate_lake``:
the tables of a lake in the versioned-folder layout of earlier versions, converted once."""

import time

from dagster import (
    AssetRecordsFilter,
    Config,
    DefaultScheduleStatus,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)

from ...resources import LakeResource, SparkRuntime
from ...spark_jobs.contracts import MigrateParams, VacuumParams
from ..features.assets import IMAGE_FEATURES
from ..ingest.assets import RAW_IMAGES, REJECTED_IMAGES
from ..pca.assets import MATRIX_FOLDER, MODEL_FOLDER, PCA_MATRIX, PCA_MODEL_KEY
from ..recognition.assets import FRUIT_CLASSIFIER
from ..recognition.assets import MODEL_FOLDER as CLASSIFIER_FOLDER
from ..shared import DATA_VERSION_TAG, SPARK_POOL

RETENTION_HOURS = 168
TABLES = (RAW_IMAGES, REJECTED_IMAGES, IMAGE_FEATURES)
VERSIONED = {PCA_MODEL_KEY: MODEL_FOLDER, PCA_MATRIX: MATRIX_FOLDER, FRUIT_CLASSIFIER: CLASSIFIER_FOLDER}


class VacuumConfig(Config):
    retention_hours: int = RETENTION_HOURS


@op(pool=SPARK_POOL)
def vacuum_tables(context: OpExecutionContext, config: VacuumConfig, spark: SparkRuntime, lake: LakeResource) -> None:
    """VACUUM each Delta table of the lake."""
    tables = {key.path[-1]: lake.spark_uri(lake.table_key(key)) for key in TABLES}
    result = spark.run_job(VacuumParams(tables=tables, retention_hours=config.retention_hours), context)
    for name, done in result.tables.items():
        context.log.info(f"{name}: {done.deleted_files} file(s) deleted (version {done.version})")


@op
def remove_superseded_versions(context: OpExecutionContext, config: VacuumConfig, lake: LakeResource) -> None:
    """Delete each unpartitioned asset's version folders written before the retention period
    that no materialization of that period names (the latest one is always kept)."""
    since = time.time() - config.retention_hours * 3600
    store = lake.store()
    for key, folder in VERSIONED.items():
        records = context.instance.fetch_materializations(AssetRecordsFilter(asset_key=key, after_timestamp=since),
                                                          limit=10_000).records
        latest = context.instance.get_latest_materialization_event(key)
        named = {r.asset_materialization.tags.get(DATA_VERSION_TAG) for r in records}
        if latest is not None:
            named.add(latest.asset_materialization.tags.get(DATA_VERSION_TAG))
        for version in store.list_dirs(folder):
            if version not in named and store.newest(f"{folder}/{version}") < since:
                store.delete_tree(f"{folder}/{version}")
                context.log.info(f"{key.to_user_string()}: removed superseded version {version}")


@job(description=f"VACUUM the Delta tables and remove superseded model and CSV versions "
                 f"(retention: {RETENTION_HOURS} hours by default).")
def vacuum_lake():
    vacuum_tables()
    remove_superseded_versions()


weekly_vacuum = ScheduleDefinition(name="weekly_vacuum", job=vacuum_lake, cron_schedule="0 3 * * 0",
                                   default_status=DefaultScheduleStatus.RUNNING)


@op(pool=SPARK_POOL)
def migrate_tables(context: OpExecutionContext, spark: SparkRuntime, lake: LakeResource) -> None:
    """Convert each class's current version of the old layout's tables into the Delta tables."""
    tables = {key.path[-1]: lake.spark_uri(lake.table_key(key)) for key in TABLES}
    result = spark.run_job(MigrateParams(lake_root=lake.spark_root, tables=tables,
                                         commit_info={"dagster_run_id": context.run_id}), context)
    for name, rows in result.rows.items():
        context.log.info(f"{name}: {rows} row(s) migrated")


@job(description="Convert a lake of the versioned-folder layout of earlier versions into Delta tables, once.")
def migrate_lake():
    migrate_tables()
