"""Where Spark jobs run. ``LocalSpark`` runs them in this process; ``EmrSpark`` (``emr.py``)
submits the same job modules as EMR steps. Both expose ``run_job``, and both report a
failure the same way: a transient one (a lost executor, a throttled or dropped S3 call)
is raised as it is, for the asset's ``RetryPolicy`` to retry; any other becomes a
``dagster.Failure`` that says which job failed and why, and is not retried."""

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import ConfigurableResource, Failure

from ..spark_jobs.contracts import Contract, JobResult
from . import s3a

_LOCK = threading.Lock()
TRANSIENT_MARKS = (
    "ExecutorLostFailure", "FetchFailed", "SlowDown", "Throttl", "503", "RequestTimeout", "Connection reset",
    "Unable to execute HTTP request",
)
MESSAGE_CHARACTERS = 600


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is worth a retry: the network or a worker failed, not the job."""
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    text = f"{type(error).__name__}: {error}"
    return any(mark in text for mark in TRANSIENT_MARKS)


def short_message(error: BaseException) -> str:
    """The error's type and own message, without the JVM's or the Python workers' stack
    traces: for a failure inside a Spark task, the last line of the worker's traceback."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    worker = [line for line in lines if not line.startswith(("at ", "File ", "Traceback", "^", "~"))]
    if "Traceback" in str(error) and worker:
        tail = [line for line in worker if ":" in line and not line.startswith("org.apache")]
        message = tail[-1] if tail else worker[-1]
    else:
        message = f"{type(error).__name__}: {worker[0]}" if worker else type(error).__name__
    return message[:MESSAGE_CHARACTERS]


@contextmanager
def final_unless_transient(what: str = "") -> Iterator[None]:
    """Let a transient error through (a step's RetryPolicy retries it); turn any other into
    a Failure that is not retried, its description ``what`` failed and the error's message."""
    try:
        yield
    except Failure:
        raise
    except Exception as error:
        if is_transient(error):
            raise
        raise Failure(description=f"{what}{short_message(error)}", allow_retries=False) from error


class SparkRuntime(ConfigurableResource):
    """Runs a job of ``spark_jobs`` somewhere: parameters and result are the dataclasses
    of ``spark_jobs.contracts``."""

    def run_job(self, params: Contract, context: Any = None) -> JobResult:
        """Run the job of ``params``; return its result (see the module for failures)."""
        with final_unless_transient(f"Spark job {params.job} failed: "):
            return self.submit(params, context)

    def submit(self, params: Contract, context: Any = None) -> JobResult:
        raise NotImplementedError


def reads_s3a(params: Contract) -> bool:
    """Whether any of a job's locations is an ``s3a://`` one."""
    return any(isinstance(value, str) and value.startswith("s3a://") for value in dataclasses.asdict(params).values())


class LocalSpark(SparkRuntime):
    """A local Spark session (``local[*]`` by default), started on first use. It reads and
    writes ``s3a://`` when the first job that needs it asks; a process works on one lake,
    so its session is built once."""

    master: str = "local[*]"
    driver_memory: str = "4g"
    log_level: str = "WARN"  # the JVM's log level on the console (the CLI sets ERROR unless -v)
    conf: dict[str, str] = {}

    def session(self, with_s3a: bool = False):
        """The process's SparkSession (Spark is imported when a job first needs it: a run
        with nothing to compute starts no JVM and loads none of Spark's Python)."""
        from ..spark_jobs.session import build_session

        with _LOCK:
            extra = {"spark.driver.memory": self.driver_memory, **(s3a.spark_conf() if with_s3a else {})}
            return build_session(self.master, {**extra, **self.conf}, with_s3a=with_s3a, log_level=self.log_level)

    def submit(self, params: Contract, context: Any = None) -> JobResult:
        from ..spark_jobs import jobs

        return jobs.run(self.session(with_s3a=reads_s3a(params)), params)
