"""What the pipeline is compared with: the model alone, the peers' notebook
pattern, and plain single-process Keras."""

from __future__ import annotations

import io
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
from PIL import Image

from fruits_assets.spark_jobs import mobilenet
from fruits_assets.spark_jobs.images import decode


def limit(payload: bytes, spec: mobilenet.ModelSpec, files: list[Path], threads: int, start_together=None) -> dict:
    """Inference alone on pre-decoded uint8 tensors, with ``threads`` threads in this
    process. ``start_together`` (a barrier) is waited on just before the timed loop."""
    images = np.stack([decode(f.read_bytes(), spec.image_size) for f in files])
    run = mobilenet.runner(spec, payload, threads)
    run(images[: spec.batch_size])  # allocate tensors for the batch shape once
    if start_together is not None:
        start_together.wait()
    started, wall_started = time.perf_counter(), time.time()
    for start in range(0, len(images), spec.batch_size):
        run(images[start : start + spec.batch_size])
    seconds = time.perf_counter() - started
    return {"images": len(images), "seconds": seconds, "started": wall_started, "ended": wall_started + seconds}


def _limit_in_child(args: tuple) -> dict:
    payload, spec, files, barrier = args
    return limit(payload, spec, files, 1, barrier)


def limit_per_core(payload: bytes, spec: mobilenet.ModelSpec, files: list[Path], processes: int) -> dict:
    """Inference alone as Spark's Python workers run it: ``processes`` single-threaded
    processes, started together, each on all of ``files``; images/s over the span from
    the first start to the last end."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited TensorFlow threads
    with context.Manager() as manager:
        barrier = manager.Barrier(processes)
        # An executor's workers exit when told to; a Pool's exit sends SIGTERM, which a
        # process started in the background may ignore, and then waits for them forever.
        with ProcessPoolExecutor(processes, mp_context=context) as pool:
            parts = list(pool.map(_limit_in_child, [(payload, spec, files, barrier)] * processes))
    span = max(p["ended"] for p in parts) - min(p["started"] for p in parts)
    return {"images": sum(p["images"] for p in parts), "seconds": span}


def _notebook_preprocess(content: bytes, input_size: int) -> np.ndarray:
    from keras.applications.mobilenet_v2 import preprocess_input
    from keras.utils import img_to_array

    image = Image.open(io.BytesIO(content)).convert("RGB").resize([input_size, input_size])
    return preprocess_input(img_to_array(image))


def _notebook_model(weights: list, input_size: int):
    import keras

    model = keras.applications.MobileNetV2(
        input_shape=(input_size, input_size, 3), include_top=False, pooling="avg", weights=None
    )
    model.set_weights(weights)
    return model


def reference(spark, source: Path, weights: list, input_size: int, output: str) -> dict:
    """The notebook pattern: binaryFile -> scalar-iterator pandas UDF, Keras weights
    broadcast, model rebuilt in every task, PIL resize to the input size, predict."""
    from pyspark.sql import functions as F

    broadcast = spark.sparkContext.broadcast(weights)

    @F.pandas_udf("array<float>")
    def featurize(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        model = _notebook_model(broadcast.value, input_size)
        for contents in batches:
            batch = np.stack([_notebook_preprocess(c, input_size) for c in contents])
            yield pd.Series(list(model.predict(batch, verbose=0)))

    started = time.perf_counter()
    images = spark.read.format("binaryFile").option("pathGlobFilter", "*.jpg").option(
        "recursiveFileLookup", "true"
    ).load(str(source))
    images.select("path", featurize("content").alias("features")).write.mode("overwrite").parquet(output)
    seconds = time.perf_counter() - started
    broadcast.unpersist()
    return {"images": spark.read.parquet(output).count(), "seconds": seconds}


def keras_single(weights: list, files: list[Path], input_size: int, batch_size: int) -> dict:
    """One Python process: read, decode, resize and predict with Keras."""
    model = _notebook_model(weights, input_size)
    model.predict(np.zeros((1, input_size, input_size, 3), np.float32), verbose=0)
    started = time.perf_counter()
    for start in range(0, len(files), batch_size):
        batch = np.stack([_notebook_preprocess(f.read_bytes(), input_size) for f in files[start : start + batch_size]])
        model.predict(batch, verbose=0)
    seconds = time.perf_counter() - started
    return {"images": len(files), "seconds": seconds}
