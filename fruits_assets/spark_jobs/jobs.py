"""The jobs by name, so a runtime (in-process or EMR step) can run any of them."""

from __future__ import annotations

from typing import Callable

from pyspark.sql import SparkSession

from . import featurize, ingest, pca

JOBS: dict[str, Callable[..., dict]] = {
    "ingest": ingest.ingest,
    "featurize": featurize.featurize,
    "pca_fit": pca.fit,
    "pca_project": pca.project,
}


def run(spark: SparkSession, name: str, params: dict) -> dict:
    """Run job ``name`` with keyword ``params``; return its metrics."""
    if name not in JOBS:
        raise KeyError(f"Unknown job {name!r}; known jobs: {sorted(JOBS)}.")
    return JOBS[name](spark, **params)
