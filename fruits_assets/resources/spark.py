"""Where Spark jobs run. ``LocalSpark`` runs them in this process; the EMR runtime
(see ``emr.py``) submits the same job modules as steps. Both expose ``run_job``."""


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


class LocalSpark(SparkRuntime):
    """A local Spark session (``local[*]`` by default), started lazily on first use.
    With ``use_s3a`` it reads and writes ``s3a://`` (jars from ``s3a_jars``: auto, maven or pypi)."""

    master: str = "local[*]"
    driver_memory: str = "4g"
    use_s3a: bool = False
    s3a_jars: str = "auto"
    conf: dict[str, str] = {}

    def session(self) -> SparkSession:
        with _LOCK:
            extra = {"spark.driver.memory": self.driver_memory}
            if self.use_s3a:
                extra.update(s3a.spark_conf(self.s3a_jars))
            return build_session(self.master, {**extra, **self.conf})

    def run_job(self, params: Contract, context: Any = None) -> JobResult:
        """Run the job of ``params`` in this process; return its result."""
        return jobs.run(self.session(), params)
