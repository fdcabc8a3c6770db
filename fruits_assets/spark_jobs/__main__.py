"""Run one job as a Spark application: ``python -m fruits_assets.spark_jobs JOB PARAMS_JSON``.

This is the EMR step entrypoint (through ``spark-submit``). When launched by
Dagster Pipes, the job's metrics go back to Dagster as materialization metadata;
otherwise they are printed as JSON.
"""

from __future__ import annotations

import json
import sys

from pyspark.sql import SparkSession

from .jobs import run


def main(argv: list[str]) -> dict:
    name, params = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    spark = SparkSession.builder.appName(f"fruits_assets:{name}").getOrCreate()
    try:
        from dagster_pipes import PipesS3MessageWriter, open_dagster_pipes
    except ImportError:
        metrics = run(spark, name, params)
        print(json.dumps(metrics, default=str))
        return metrics
    import boto3

    with open_dagster_pipes(message_writer=PipesS3MessageWriter(client=boto3.client("s3"))) as pipes:
        metrics = run(spark, name, params)
        pipes.report_custom_message({"metrics": metrics})
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
