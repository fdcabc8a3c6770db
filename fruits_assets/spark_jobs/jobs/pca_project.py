"""Project every image of a set of classes (both splits) on a saved PCA model, into one CSV
file ``path,label,split,pc_1..pc_k``, rows ordered by split, label and path."""

from __future__ import annotations

import base64
import time

from pyspark.sql import SparkSession

from .. import plots, tables
from ..contracts import PcaProjectParams, PcaProjectResult
from ..csv_export import write_sorted_lines
from ..pca_model import FittedPCA
from ..projection import LINE

SORT_KEY = ["split", "label", "path"]
SCATTER_POINTS = 5000


def pca_project(spark: SparkSession, params: PcaProjectParams) -> PcaProjectResult:
    started = time.perf_counter()
    fitted = FittedPCA.load(spark, params.model_dir)
    # The workers decode the features' Parquet files themselves where the table allows it
    # (one new class at 50,500 images: this step 6.9 s against 8.1 s, means of 14 runs
    # each; docs/benchmarks.md). Projected once and cached, with each image's CSV line:
    # the sort's sampling pass then reads the cache instead of projecting every row again.
    files = tables.data_files(spark, params.image_features, params.classes, params.version)
    if files is None:
        projected = fitted.csv_rows(tables.read(spark, params.image_features, params.classes, params.version))
    else:
        projected = fitted.csv_rows_of_files(spark, files)
    projected = projected.persist()
    rows = projected.count()
    write_sorted_lines(projected, SORT_KEY, LINE, ",".join(fitted.columns), params.csv)
    points = projected.select("label", "pc_1", "pc_2")
    scatter = plots.scatter(points.sample(min(1.0, SCATTER_POINTS / max(rows, 1)), seed=0).toPandas())
    projected.unpersist()
    return PcaProjectResult(
        rows=rows, k=fitted.k, columns=fitted.columns, scatter_png=base64.b64encode(scatter).decode(),
        seconds=round(time.perf_counter() - started, 3),
    )
