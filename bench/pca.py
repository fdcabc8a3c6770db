"""Spark ML PCA (the project's jobs) next to scikit-learn on the same feature matrix."""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd

from fruits_assets.spark_jobs import jobs
from fruits_assets.spark_jobs.contracts import PcaFitParams, PcaProjectParams
from fruits_assets.spark_jobs.pca import TRAIN_SPLIT
from fruits_assets.spark_jobs.versioned import VersionedLake


def compare(spark, lake_uri: str, classes: list[str], variance_target: float = 0.95) -> dict:
    """Seconds of fit + projection into a CSV file, the smallest k reaching
    ``variance_target`` found by each: the project's Spark jobs, then scikit-learn (full
    SVD) on the same matrix already in memory, its CSV written with pandas."""
    started = time.perf_counter()
    fitted = jobs.run(spark, PcaFitParams(lake_root=lake_uri, classes=classes, variance_target=variance_target, force=True))
    projected = jobs.run(spark, PcaProjectParams(lake_root=lake_uri, force=True))
    spark_seconds = time.perf_counter() - started

    from sklearn.decomposition import PCA

    rows = VersionedLake(spark, lake_uri).read_parquet("image_features", classes).select("path", "label", "split", "features").toPandas()
    matrix = np.stack(rows["features"].to_numpy()).astype(np.float64)
    train = matrix[(rows["split"] == TRAIN_SPLIT).to_numpy()]
    started = time.perf_counter()
    reference = PCA(n_components=variance_target, svd_solver="full").fit(train)
    projected_frame = pd.DataFrame(reference.transform(matrix), columns=[f"pc_{i + 1}" for i in range(reference.n_components_)])
    for position, column in enumerate(("path", "label", "split")):
        projected_frame.insert(position, column, rows[column].to_numpy())
    projected_frame.to_csv(io.StringIO(), index=False)
    sklearn_seconds = time.perf_counter() - started
    return {
        "rows": projected.rows,
        "train_rows": fitted.train_rows,
        "k": fitted.k,
        "sklearn_k": int(reference.n_components_),
        "spark_fit_project_seconds": round(spark_seconds, 2),
        "sklearn_fit_project_seconds": round(sklearn_seconds, 2),
    }
