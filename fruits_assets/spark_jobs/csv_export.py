"""One CSV file of a DataFrame, rows sorted: a sorted part per core, written in parallel,
then joined in order under one header."""

from __future__ import annotations

from pyspark.sql import DataFrame

from .hadoop_fs import HadoopFS


def write_sorted_csv(df: DataFrame, sort_key: list[str], uri: str) -> None:
    """``df`` as the CSV file ``uri`` (header, then rows ordered by ``sort_key``)."""
    fs = HadoopFS(df.sparkSession)
    parts_uri = f"{uri}.parts"
    slots = df.sparkSession.sparkContext.defaultParallelism
    # RFC 4180 quoting (a quote inside a value is doubled), as pandas and spreadsheets read it
    sorted_parts = df.repartitionByRange(slots, *sort_key).sortWithinPartitions(*sort_key)
    sorted_parts.write.mode("overwrite").option("escape", "\"").csv(parts_uri)
    parts = sorted(f.uri for f in fs.list_files(parts_uri) if f.uri.rsplit("/", 1)[-1].startswith("part-"))  # partition order
    fs.concatenate((",".join(df.columns) + "\n").encode(), parts, uri)
    fs.delete(parts_uri)
