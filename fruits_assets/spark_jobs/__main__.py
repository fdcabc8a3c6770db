"""Run one job as a Spark application: ``python -m fruits_assets.spark_jobs JOB PARAMS_JSON``.

This is the EMR step entrypoint (through ``spark-submit``). ``PARAMS_JSON`` is the job's
parameters dataclass as JSON (``contracts``), or ``@`` and the s3:// URI of an object
holding it (too long for a step argument). When launched by Dagster Pipes
(``DAGSTER_PIPES_CONTEXT`` is set), the result dataclass goes back to Dagster as a Pipes
message through S3; otherwise it is printed as JSON.
"""

from __future__ import annotations

import os
import sys

from .contracts import PARAMS, RESULT_MESSAGE, JobResult
from .jobs import run
from .s3 import encrypted_s3_client
from .session import build_session

PIPES_ENV = "DAGSTER_PIPES_CONTEXT"


def _params_text(argument: str) -> str:
    if not argument.startswith("@"):
        return argument
    bucket, key = argument[1:].removeprefix("s3://").split("/", 1)
    return encrypted_s3_client().get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def main(argv: list[str]) -> JobResult:
    name, text = argv[0], _params_text(argv[1]) if len(argv) > 1 else "{}"
    if name not in PARAMS:
        raise SystemExit(f"Unknown job {name!r}; known jobs: {sorted(PARAMS)}.")
    params = PARAMS[name].from_json(text)
    spark = build_session(master=None, conf={"spark.app.name": f"fruits_assets:{name}"})
    if PIPES_ENV not in os.environ:
        result = run(spark, params)
        print(result.to_json())
        return result
    from dagster_pipes import PipesS3MessageWriter, open_dagster_pipes

    with open_dagster_pipes(message_writer=PipesS3MessageWriter(client=encrypted_s3_client())) as pipes:
        result = run(spark, params)
        pipes.report_custom_message({RESULT_MESSAGE: result.to_dict()})
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
