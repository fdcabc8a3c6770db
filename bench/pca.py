"""Spark ML PCA (the project's jobs) next to scikit-learn on the same feature matrix."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fruits_assets.spark_jobs import jobs, tables
from fruits_assets.spark_jobs.contracts import PcaFitParams, PcaProjectParams


def compare(spark, image_features: str, classes: list[str], work: Path, variance_target: float = 0.95) -> dict:
    """Seconds of fit + projection into a CSV file, the smallest k reaching
    ``variance_target`` found by each: the project's Spark jobs, then scikit-learn (full
    SVD) on the same matrix already in memory, its CSV written with pandas."""
    version = tables.version(spark, image_features)
    model, csv = f"file://{work}/model", f"file://{work}/pca_matrix.csv"
    started = time.perf_counter()
    fitted = jobs.run(spark, PcaFitParams(image_features=image_features, version=version, classes=classes,
                                          model_dir=model, variance_target=variance_target))
    projected = jobs.run(spark, PcaProjectParams(image_features=image_features, version=version, classes=classes,
                                                 model_dir=model, csv=csv))
    spark_seconds = time.perf_counter() - started

    from sklearn.decomposition import PCA

    rows = tables.read(spark, image_features, classes).select("path", "label", "split", "features").toPandas()
    matrix = np.stack(rows["features"].to_numpy()).astype(np.float64)
    train = matrix[(rows["split"] == "Training").to_numpy()]
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
