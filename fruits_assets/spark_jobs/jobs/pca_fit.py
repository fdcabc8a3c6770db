"""Fit the PCA on the Training images of a set of classes (on every image when there are
fewer than 2 Training ones), at one version of the features table; save it as a
``pyspark.ml`` ``PCAModel``. ``k`` is fixed, or the smallest k whose cumulative explained
variance reaches a target."""

from __future__ import annotations

import base64
import time

import numpy as np
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from .. import plots, tables
from ..contracts import PcaFitParams, PcaFitResult
from ..covariance import covariance, spectrum
from ..mobilenet import FEATURES
from ..pca_model import FittedPCA, check_settings, fixed_signs

TRAIN_SPLIT = "Training"


def pca_fit(spark: SparkSession, params: PcaFitParams) -> PcaFitResult:
    check_settings(params.k, params.variance_target)
    started = time.perf_counter()
    features = tables.read(spark, params.image_features, params.classes, params.version)
    fitted_on = TRAIN_SPLIT
    rows, matrix, partitions = covariance(features.where(F.col("split") == TRAIN_SPLIT))
    if rows < 2:
        fitted_on = "every image (fewer than 2 Training images)"
        rows, matrix, partitions = covariance(features)
    if rows < 2:
        raise ValueError(f"PCA needs at least 2 images; the features of {len(params.classes)} class(es) hold {rows}.")
    ratios, vectors = spectrum(matrix)
    k = params.k or int(min(np.searchsorted(np.cumsum(ratios), params.variance_target - 1e-12) + 1, FEATURES))
    fitted = FittedPCA(fixed_signs(vectors[:, :k]), ratios[:k])
    fitted.save(spark, params.model_dir)
    explained = fitted.explained_variance.tolist()
    scree = plots.scree(explained, ratios.tolist(), k, params.variance_target if params.k is None else None)
    return PcaFitResult(
        k=k,
        fitted_on=fitted_on,
        train_rows=rows,
        covariance_partitions=partitions,
        explained_variance=explained,
        cumulative_variance=np.cumsum(explained).tolist(),
        scree_png=base64.b64encode(scree).decode(),
        seconds=round(time.perf_counter() - started, 3),
    )
