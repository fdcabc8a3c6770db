"""Run one job as a Spark application: ``python -m fruits_assets.spark_jobs JOB PARAMS [RESULT]``.

This is the EMR step entrypoint (through ``spark-submit``). ``PARAMS`` is the job's
parameters dataclass as JSON (``contracts``), or ``@`` and the s3:// URI of an object
holding it (too long for a step argument). The result dataclass is written as JSON to the
s3:// URI ``RESULT`` (encrypted), where the runtime that submitted the step reads it, or
printed when no URI is given.
"""

from __future__ import annotations

import sys

from .contracts import PARAMS, JobResult
from .jobs import run
from .s3 import encrypted_s3_client
from .session import build_session


def _bucket_and_key(uri: str) -> tuple[str, str]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return bucket, key


def _params_text(argument: str) -> str:
    if not argument.startswith("@"):
        return argument
    bucket, key = _bucket_and_key(argument[1:])
    return encrypted_s3_client().get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def main(argv: list[str]) -> JobResult:
    name, text = argv[0], _params_text(argv[1]) if len(argv) > 1 else "{}"
    if name not in PARAMS:
        raise SystemExit(f"Unknown job {name!r}; known jobs: {sorted(PARAMS)}.")
    params = PARAMS[name].from_json(text)
    spark = build_session(master=None, conf={"spark.app.name": f"fruits_assets:{name}"})
    result = run(spark, params)
    if len(argv) > 2:
        bucket, key = _bucket_and_key(argv[2])
        encrypted_s3_client().put_object(Bucket=bucket, Key=key, Body=result.to_json().encode())
    else:
        print(result.to_json())
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
