"""Where Spark jobs run. ``LocalSpark`` runs them in this process; the EMR runtime
(see ``emr.py``) submits the same job modules as steps. Both expose ``run_job``."""


import dataclasses
import threading
from typing import Any

from dagster import ConfigurableResource
from pyspark.sql import SparkSession

from ..spark_jobs import jobs
from ..spark_jobs.contracts import Contract, JobResult
from ..spark_jobs.session import build_session
from . import s3a

_LOCK = threading.Lock()


class SparkRuntime(ConfigurableResource):
    """Runs a job of ``spark_jobs`` somewhere: parameters and result are the dataclasses
    of ``spark_jobs.contracts``."""

    def run_job(self, params: Contract, context: Any = None) -> JobResult:
        raise NotImplementedError


def reads_s3a(params: Contract) -> bool:
    """Whether a job's locations (its ``*_root`` parameters) include an ``s3a://`` one."""
    return any(
        field.name.endswith("_root") and str(getattr(params, field.name)).startswith("s3a://")
        for field in dataclasses.fields(params)
    )


class LocalSpark(SparkRuntime):
    """A local Spark session (``local[*]`` by default), started on first use. It reads and
    writes ``s3a://`` when the first job that needs it asks (jars from ``s3a_jars``: auto,
    maven or pypi); a process works on one lake, so its session is built once."""

    master: str = "local[*]"
    driver_memory: str = "4g"
    s3a_jars: str = "auto"
    conf: dict[str, str] = {}

    def session(self, with_s3a: bool = False) -> SparkSession:
        with _LOCK:
            extra = {"spark.driver.memory": self.driver_memory}
            if with_s3a:
                extra.update(s3a.spark_conf(self.s3a_jars))
            return build_session(self.master, {**extra, **self.conf})

    def run_job(self, params: Contract, context: Any = None) -> JobResult:
        """Run the job of ``params`` in this process; return its result."""
        return jobs.run(self.session(with_s3a=reads_s3a(params)), params)
