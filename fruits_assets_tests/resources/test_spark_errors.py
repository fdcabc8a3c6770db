"""How a failed Spark job reads: a transient failure is raised as it is (the asset's
RetryPolicy retries it), any other becomes a Failure that is not retried, whose
description is the error's own message without stack traces."""

import pytest
from dagster import Failure

from fruits_assets.resources.spark import final_unless_transient, is_transient, short_message

pytestmark = pytest.mark.fast

WORKER_FAILURE = """An error occurred while calling o123.save.
: org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 3.0 failed 1 times
org.apache.spark.api.python.PythonException: Traceback (most recent call last):
  File "/x/worker.py", line 1247, in main
    process()
  File "/x/featurize.py", line 88, in features
    raise ValueError("an image of 0 bytes")
ValueError: an image of 0 bytes
\tat org.apache.spark.api.python.BasePythonRunner$ReaderIterator.handlePythonException(PythonRunner.scala:572)
"""


@pytest.mark.parametrize("error", [
    ConnectionResetError("peer reset"), TimeoutError("read timed out"),
    RuntimeError("Job aborted: ExecutorLostFailure (executor 1 exited caused by one of the running tasks)"),
    OSError("com.amazonaws.services.s3.model.AmazonS3Exception: Slow Down (Service: Amazon S3; Status Code: 503; "
            "Error Code: SlowDown)"),
    RuntimeError("org.apache.hadoop.fs.s3a.AWSClientIOException: Unable to execute HTTP request: Read timed out"),
])
def test_lost_workers_and_throttled_calls_are_transient(error):
    assert is_transient(error)
    with pytest.raises(type(error)), final_unless_transient():
        raise error


@pytest.mark.parametrize("error", [ValueError("k must be within 1..1280"), KeyError("label"),
                                   RuntimeError(WORKER_FAILURE)])
def test_other_errors_are_final_failures_with_their_own_message(error):
    assert not is_transient(error)
    with pytest.raises(Failure) as failure, final_unless_transient("Spark job featurize failed: "):
        raise error
    assert not failure.value.allow_retries
    assert failure.value.description.startswith("Spark job featurize failed: ")
    assert "\n" not in failure.value.description and "\tat " not in failure.value.description


def test_a_worker_failure_reads_as_the_last_line_of_its_traceback():
    assert short_message(RuntimeError(WORKER_FAILURE)) == "ValueError: an image of 0 bytes"
    assert short_message(ValueError("Set either k or variance_target")) == "ValueError: Set either k or variance_target"


def test_a_failure_already_raised_passes_through():
    with pytest.raises(Failure) as failure, final_unless_transient("wrapped: "):
        raise Failure("as it was", allow_retries=True)
    assert failure.value.description == "as it was" and failure.value.allow_retries
