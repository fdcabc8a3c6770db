"""``python -m bench.featurize``: featurization throughput against its limit and baselines.

One run, the same N images and input size for every measure:
  limit         inference alone on pre-decoded tensors (fastest backend, all cores)
  pipeline      the project's featurize job: raw_images -> image_features (Delta tables)
  reference     the peers' notebook pattern re-implemented (binaryFile, Keras in a UDF)
  keras_single  one process: decode + resize + Keras predict
plus pipeline/limit and pipeline/reference, peak RSS and model builds per worker.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from deltalake import DeltaTable

from fruits_assets import sample
from fruits_assets.spark_jobs import jobs, mobilenet
from fruits_assets.spark_jobs.contracts import FeaturizeParams, IngestParams
from fruits_assets.spark_jobs.session import build_session

from . import baselines, corpus, pca
from .memory import PeakMemory

MEASURES = ("limit", "pipeline", "reference", "keras_single")
SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "fruits-360-sample"


def default_source() -> Path:
    """The real Fruits-360 sample beside the project, else the embedded sample."""
    if (SHARED_SAMPLE / "Training").is_dir():
        return SHARED_SAMPLE
    return sample.generate(Path(tempfile.gettempdir()) / "fruits-bench-sample")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.featurize", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1200, help="N: images, repeated from the source to reach N")
    parser.add_argument("--input-size", type=int, default=224, help="network input side (images are resized to it)")
    parser.add_argument("--backend", choices=mobilenet.BACKENDS, default="litert", help="pipeline backend")
    parser.add_argument("--master", default="local[2]", help="Spark master of the pipeline and reference")
    parser.add_argument("--weights", default="random", help="model weights (random: seeded, no download)")
    parser.add_argument("--source", type=Path, default=None, help="Fruits-360-style tree (default: real sample)")
    parser.add_argument("--skip", default="", help=f"comma-separated measures to skip, of {','.join(MEASURES)}")
    parser.add_argument("--baseline-images", type=int, default=1200,
                        help="at most this many images for limit/reference/keras_single (they are steady-state)")
    parser.add_argument("--pca", action="store_true", help="also time Spark PCA fit+projection vs scikit-learn")
    parser.add_argument("--json", type=Path, default=None, help="write the results here as JSON")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args(argv)
    args.skip = {s for s in args.skip.split(",") if s}
    if args.skip - set(MEASURES):
        parser.error(f"--skip takes measures of {MEASURES}")
    return args


def _rate(result: dict | None) -> float | None:
    return round(result["images"] / result["seconds"], 1) if result else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def machine() -> dict:
    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def convert(spec: mobilenet.ModelSpec, lake: Path) -> tuple[str, mobilenet.ModelSpec]:
    """(the network's location in ``lake``, the spec with its weights resolved): converted
    once, kept in the lake's model cache as the pipeline keeps it."""
    cache = lake / "models" / "mobilenet_v2"
    for weights in mobilenet.cached_weights(spec.weights):
        if (cache / f"{mobilenet.cache_key(spec, weights)}.bin").is_file():
            return f"file://{cache}/{mobilenet.cache_key(spec, weights)}.bin", replace(spec, weights=weights)
    payload, weights = mobilenet.bundle(spec)
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"{mobilenet.cache_key(spec, weights)}.bin").write_bytes(payload)
    return f"file://{cache}/{mobilenet.cache_key(spec, weights)}.bin", replace(spec, weights=weights)


def run(args: argparse.Namespace) -> dict:
    work = Path(args.workdir or tempfile.mkdtemp(prefix="fruits-bench-"))
    source, lake = work / "source", work / "lake"
    spec = mobilenet.ModelSpec(weights=args.weights, backend=args.backend, input_size=args.input_size).validate()
    corpus.build(args.source or default_source(), source, args.images)
    files = sorted(source.glob("*/*/*.jpg"))
    baseline_files = files[: args.baseline_images]
    classes = sorted({f.parent.name for f in files})
    results: dict = {"machine": machine(), "images": args.images, "input_size": args.input_size,
                     "backend": args.backend, "master": args.master, "classes": len(classes)}

    started = time.perf_counter()
    spark = build_session(args.master)
    results["spark_startup_seconds"] = round(time.perf_counter() - started, 2)
    tables = {name: f"file://{lake}/tables/{name}" for name in ("raw_images", "rejected_images", "image_features")}
    started = time.perf_counter()
    network, spec = convert(spec, lake)
    results["weights"] = spec.weights
    results["model_build_seconds"] = round(time.perf_counter() - started, 2)
    ingest = jobs.run(spark, IngestParams(source_root=f"file://{source}", raw_images=tables["raw_images"],
                                          rejected_images=tables["rejected_images"], classes=classes))
    assert ingest.ingested == args.images, f"ingest kept {ingest.ingested} of {args.images} images"
    results["ingest_images_per_second"] = ingest.files_per_second
    labels = DeltaTable(str(lake / "tables" / "raw_images")).to_pyarrow_table(columns=["label"]).column("label").to_pylist()

    measured: dict[str, dict | None] = dict.fromkeys(MEASURES)
    if "pipeline" not in args.skip:
        with PeakMemory() as memory:
            started = time.perf_counter()
            metrics = jobs.run(spark, FeaturizeParams(
                raw_images=tables["raw_images"], image_features=tables["image_features"], network=network,
                classes=classes, raw_rows={c: labels.count(c) for c in classes}, model=spec, force=True))
            measured["pipeline"] = {"images": metrics.rows, "seconds": time.perf_counter() - started}
        results.update(memory.mib())
        results["python_workers"] = len(metrics.model_builds_by_worker)
        results["model_builds_by_worker"] = sorted(metrics.model_builds_by_worker.values())
        results["threads_per_worker"] = metrics.threads_per_worker
    if args.pca:
        results["pca"] = pca.compare(spark, tables["image_features"], classes, work / "pca")
    keras_weights = None
    if {"reference", "keras_single"} - args.skip:
        model, _ = mobilenet.build_keras(spec)
        keras_weights = model.layers[-1].get_weights()
    if "reference" not in args.skip:
        subset = work / "reference-source"
        shutil.rmtree(subset, ignore_errors=True)
        for f in baseline_files:
            (subset / f.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (subset / f.relative_to(source)).symlink_to(f)
        measured["reference"] = baselines.reference(spark, subset, keras_weights, args.input_size, str(work / "reference"))
    fastest = mobilenet.ModelSpec(weights=args.weights, backend="litert", input_size=args.input_size).validate()
    limit_payload = Path(convert(fastest, lake)[0].removeprefix("file://")).read_bytes()
    spark.stop()
    if "limit" not in args.skip:
        measured["limit"] = baselines.limit(limit_payload, fastest, baseline_files, os.cpu_count())
    if "keras_single" not in args.skip:
        measured["keras_single"] = baselines.keras_single(keras_weights, baseline_files, args.input_size, mobilenet.BEST_BATCH["keras"])

    rates = {name: _rate(result) for name, result in measured.items()}
    results.update({f"{name}_images_per_second": rate for name, rate in rates.items()})
    results["pipeline_seconds"] = round(measured["pipeline"]["seconds"], 2) if measured["pipeline"] else None
    results["baseline_images"] = len(baseline_files)
    results["pipeline_over_limit"] = _ratio(rates["pipeline"], rates["limit"])
    results["pipeline_over_reference"] = _ratio(rates["pipeline"], rates["reference"])
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return results


def report(results: dict) -> str:
    lines = [f"fruits_assets featurize benchmark: N={results['images']}, input {results['input_size']}px, "
             f"backend {results['backend']}, master {results['master']}, weights {results['weights']}"]
    for key, value in results.items():
        if key not in ("machine", "pca"):
            lines.append(f"  {key:<34} {value}")
    for key, value in results.get("pca", {}).items():
        lines.append(f"  pca.{key:<30} {value}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    results = run(args)
    print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
