"""One CSV file of lines formatted beforehand, rows sorted: a sorted part per core, written
in parallel, then joined in order under one header."""

from __future__ import annotations

from pyspark.sql import DataFrame

from .hadoop_fs import HadoopFS


def write_sorted_lines(df: DataFrame, sort_key: list[str], line_column: str, header: str, uri: str) -> None:
    """The file ``uri``: ``header``, then ``df``'s ``line_column`` (a CSV line each, without
    its line break) in the order of ``sort_key``."""
    fs = HadoopFS(df.sparkSession)
    parts_uri = f"{uri}.parts"
    slots = df.sparkSession.sparkContext.defaultParallelism
    sorted_parts = df.repartitionByRange(slots, *sort_key).sortWithinPartitions(*sort_key)
    sorted_parts.select(line_column).write.mode("overwrite").text(parts_uri)
    parts = sorted(f.uri for f in fs.list_files(parts_uri) if f.uri.rsplit("/", 1)[-1].startswith("part-"))  # partition order
    fs.concatenate(f"{header}\n".encode(), parts, uri)
    fs.delete(parts_uri)
