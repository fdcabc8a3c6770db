"""Featurize raw images with MobileNetV2 in a scalar-iterator pandas UDF.

The network comes from the lake (converted once, ``mobilenet.bundle``) and is shipped
with ONE ``SparkContext.broadcast``; each Python worker builds its runner once and reuses
it for every batch of every task (``feature_udf``). A dict accumulator reports how many
times each worker built it.

An image whose content id already has features from the same model in the table keeps
them (a join on ``image_id``, only for the classes that may have some); only the others
go through the network. Another accumulator tallies, per class, the images inferred and
reused and what their vectors hold (``measurements``). Classes are written a
group at a time, each group one Delta commit replacing exactly its classes, so a failure
keeps the groups committed before it.
"""

from __future__ import annotations

import math
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from .. import class_runs, measurements, mobilenet, tables
from ..contracts import FeaturizedClass, FeaturizeParams, FeaturizeResult
from ..feature_udf import CountsByWorker, make_udf
from ..hadoop_fs import HadoopFS
from ..tables import PARTITION

ROWS_PER_TASK = 4000


def _raw_in_runs(spark: SparkSession, raw_images: str, rows: dict[str, int]) -> tuple[DataFrame, int]:
    """(raw images of the classes of ``rows``, Spark tasks): partitions of consecutive
    classes (see ``class_runs``) of about ROWS_PER_TASK rows, a multiple of the slots."""
    slots = spark.sparkContext.defaultParallelism
    total = sum(rows.values())
    runs = class_runs.plan(list(rows.items()), slots * max(1, math.ceil(total / (slots * ROWS_PER_TASK))))
    if runs:
        raw = class_runs.read_runs(lambda classes: tables.read(spark, raw_images, classes), runs)
    else:
        raw = tables.read(spark, raw_images, list(rows))
    return raw.select("image_id", "path", "split", "label", "content"), max(1, len(runs))


def chunks(classes: list[str], rows: dict[str, int], most_rows: int) -> list[list[str]]:
    """Consecutive groups of classes of at most ``most_rows`` rows (a bigger class is a
    group of its own): each group is written and committed before the next starts."""
    groups: list[list[str]] = []
    size = 0
    for cls in classes:
        if not groups or size + rows[cls] > most_rows:
            groups.append([])
            size = 0
        groups[-1].append(cls)
        size += rows[cls]
    return groups


def _with_known_features(spark: SparkSession, raw: DataFrame, features_table: str, classes: list[str], model: str) -> DataFrame:
    """``raw`` plus ``_known``: the features the table holds for the same image id from
    ``model`` in ``classes`` (null where it holds none; no join without such classes)."""
    if not classes or not tables.exists(spark, features_table):
        return raw.withColumn("_known", F.lit(None).cast("array<float>"))
    known = (
        tables.read(spark, features_table, classes)
        .where(F.col("model") == model)
        .select("image_id", F.col("features").alias("_known"))
        .dropDuplicates(["image_id"])
    )
    return raw.join(known, "image_id", "left")


def featurize(spark: SparkSession, params: FeaturizeParams) -> FeaturizeResult:
    """Features for every image of ``params.classes``, reusing those an image already has
    from the same model (none with ``force``); one commit per group of classes. The
    classes of ``params.measure`` are only measured as the table holds them."""
    spec = params.model.validate()
    started = time.perf_counter()
    payload = HadoopFS(spark).read_bytes(params.network) if params.classes else b""
    model_seconds = time.perf_counter() - started
    model_id = mobilenet.cache_key(spec, spec.weights)
    every, raw_rows = [*params.classes, *params.measure], params.raw_rows

    started = time.perf_counter()
    sc = spark.sparkContext
    broadcast = sc.broadcast(payload) if params.classes else None
    builds = sc.accumulator({}, CountsByWorker())
    tallies = sc.accumulator({}, measurements.TallyByClass())
    threads = spec.threads or int(sc.getConf().get("spark.task.cpus", "1"))
    udf = make_udf(spec, broadcast, threads, builds, tallies)
    commit_info = {**params.commit_info, "job": "featurize", "model": model_id}
    per_class, tasks, rows_done, groups = {}, 0, 0, chunks(params.classes, raw_rows, params.chunk_rows)
    if params.measure:
        measured = measurements.of_features(tables.read(spark, params.image_features, params.measure), params.measure)
        per_class.update({c: _featurized(measured[c], raw_rows[c], measurements.VectorTally()) for c in params.measure})
    for group in groups:
        rows = sum(raw_rows[c] for c in group)
        raw, group_tasks = _raw_in_runs(spark, params.raw_images, {c: raw_rows[c] for c in group})
        reusable = [] if params.force else [c for c in group if params.reusable is None or c in params.reusable]
        raw = _with_known_features(spark, raw, params.image_features, reusable, model_id)
        features = raw.select(
            "image_id", "path", "split", "label", F.lit(model_id).alias("model"),
            udf("label", "content", "_known").alias("features"),
        )
        tables.replace_classes(features, params.image_features, group, {**commit_info, "classes": group})
        written = tables.count_ids(tables.read(spark, params.image_features, group).select(PARTITION, "image_id"), group)
        tallied = dict(tallies.value)
        for cls in group:
            tally = tallied.get(cls, measurements.VectorTally())
            per_class[cls] = _featurized(tally.measures(*written[cls]), raw_rows[cls], tally)
        rows_done += rows
        tasks += group_tasks
    seconds = time.perf_counter() - started
    if broadcast is not None:
        broadcast.unpersist()
    inferred = sum(m.inferred for m in per_class.values())
    return FeaturizeResult(
        rows=rows_done,
        inferred=inferred,
        reused=sum(m.reused for m in per_class.values()),
        seconds=round(seconds, 3),
        images_per_second=round(inferred / seconds, 2) if seconds and inferred else None,
        model_seconds=round(model_seconds, 3),
        model=model_id,
        threads_per_worker=threads,
        tasks=tasks,
        commits=len(groups),
        model_builds_by_worker=dict(builds.value),
        classes={c: per_class[c] for c in every},
    )


def _featurized(m: measurements.FeatureMeasures, raw_rows: int, tally: measurements.VectorTally) -> FeaturizedClass:
    return FeaturizedClass(rows=m.rows, raw_rows=raw_rows, distinct_ids=m.distinct_ids, inferred=tally.inferred,
                           reused=tally.reused, bad_vectors=m.bad_vectors, all_vectors_equal=m.all_vectors_equal)
