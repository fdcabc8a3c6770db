"""Fit the PCA on the Training images of a set of classes (on every image when there are
fewer than 2 Training ones), at one version of the features table; save it as a
``pyspark.ml`` ``PCAModel``, with the moments it was computed from. ``k`` is fixed, or the
smallest k whose cumulative explained variance reaches a target. A fit that extends an
earlier one reads only the classes that one did not have."""

from __future__ import annotations

import base64
import time

import numpy as np
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from .. import plots, tables
from ..contracts import MOMENTS_FILE, TRAIN_SPLIT, PcaFitParams, PcaFitResult
from ..covariance import Moments, moments, spectrum
from ..hadoop_fs import HadoopFS
from ..mobilenet import FEATURES
from ..pca_model import FittedPCA, check_settings, fixed_signs
from ..uris import join


def pca_fit(spark: SparkSession, params: PcaFitParams) -> PcaFitResult:
    check_settings(params.k, params.variance_target)
    started = time.perf_counter()
    fs = HadoopFS(spark)
    fitted_on = TRAIN_SPLIT
    read = [c for c in params.classes if c not in params.extends_classes] if params.extends else params.classes
    features = tables.read(spark, params.image_features, read, params.version)
    total, partitions = moments(features.where(F.col("split") == TRAIN_SPLIT))
    if params.extends:
        total = Moments.from_bytes(fs.read_bytes(join(params.extends, MOMENTS_FILE))) + total
    elif total.rows < 2:
        fitted_on = "every image (fewer than 2 Training images)"
        total, partitions = moments(features)
    if total.rows < 2:
        raise ValueError(f"PCA needs at least 2 images; the features of {len(params.classes)} class(es) hold {total.rows}.")
    ratios, vectors = spectrum(total.covariance())
    k = params.k or int(min(np.searchsorted(np.cumsum(ratios), params.variance_target - 1e-12) + 1, FEATURES))
    fitted = FittedPCA(fixed_signs(vectors[:, :k]), ratios[:k])
    fitted.save(spark, params.model_dir)
    fs.concatenate(total.to_bytes(), [], join(params.model_dir, MOMENTS_FILE))
    explained = fitted.explained_variance.tolist()
    scree = plots.scree(explained, ratios.tolist(), k, params.variance_target if params.k is None else None)
    return PcaFitResult(
        k=k,
        fitted_on=fitted_on,
        train_rows=total.rows,
        read_classes=len(read),
        covariance_partitions=partitions,
        explained_variance=explained,
        cumulative_variance=np.cumsum(explained).tolist(),
        scree_png=base64.b64encode(scree).decode(),
        seconds=round(time.perf_counter() - started, 3),
    )
