"""VACUUM the lake's Delta tables: delete the data files no version within the retention
period reads any more (Delta's own ``VACUUM ... RETAIN n HOURS``)."""

from __future__ import annotations

import time

from pyspark.sql import SparkSession

from .. import tables
from ..contracts import VacuumedTable, VacuumParams, VacuumResult


def vacuum(spark: SparkSession, params: VacuumParams) -> VacuumResult:
    started = time.perf_counter()
    done = {}
    for name, location in params.tables.items():
        if not tables.exists(spark, location):
            continue
        spark.sql(f"VACUUM {tables.sql_name(location)} RETAIN {params.retention_hours} HOURS")
        end = tables.last_operation(spark, location, "VACUUM END")
        metrics = end["operationMetrics"] if end else {}
        done[name] = VacuumedTable(deleted_files=int(metrics.get("numDeletedFiles", 0)), version=tables.version(spark, location))
    return VacuumResult(tables=done, seconds=round(time.perf_counter() - started, 3))
