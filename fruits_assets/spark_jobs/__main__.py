"""Run one job as a Spark application: ``python -m fruits_assets.spark_jobs JOB PARAMS_JSON``.

This is the EMR step entrypoint (through ``spark-submit``). When launched by
Dagster Pipes (``DAGSTER_PIPES_CONTEXT`` is set), the job's metrics go back to
Dagster as a Pipes message through S3; otherwise they are printed as JSON.
"""

from __future__ import annotations

import json
import os
import sys

from .jobs import run
from .s3 import encrypted_s3_client
from .session import build_session

PIPES_ENV = "DAGSTER_PIPES_CONTEXT"


def main(argv: list[str]) -> dict:
    name, params = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    spark = build_session(master=None, conf={"spark.app.name": f"fruits_assets:{name}"})
    if PIPES_ENV not in os.environ:
        metrics = run(spark, name, params)
        print(json.dumps(metrics, default=str))
        return metrics
    from dagster_pipes import PipesS3MessageWriter, open_dagster_pipes

    with open_dagster_pipes(message_writer=PipesS3MessageWriter(client=encrypted_s3_client())) as pipes:
        metrics = run(spark, name, params)
        pipes.report_custom_message({"metrics": json.loads(json.dumps(metrics, default=str))})
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
