"""The jobs, each found by its parameters' type, so a runtime (in process or an EMR step)
can run any of them."""

from __future__ import annotations

from typing import Callable

from pyspark.sql import SparkSession

from ..contracts import PARAMS, JobResult
from . import featurize, ingest, migrate, pca_fit, pca_project, vacuum

JOBS: dict[str, Callable[[SparkSession, object], JobResult]] = {
    "ingest": ingest.ingest,
    "featurize": featurize.featurize,
    "pca_fit": pca_fit.pca_fit,
    "pca_project": pca_project.pca_project,
    "vacuum": vacuum.vacuum,
    "migrate": migrate.migrate,
}
assert set(JOBS) == set(PARAMS), "every job has a parameters type, and every parameters type a job"


def run(spark: SparkSession, params) -> JobResult:
    """Run the job that takes ``params`` (a dataclass of ``contracts``); return its result."""
    if getattr(params, "job", None) not in JOBS:
        raise TypeError(f"Not the parameters of a job: {params!r}; known jobs: {sorted(JOBS)}.")
    return JOBS[params.job](spark, params)
