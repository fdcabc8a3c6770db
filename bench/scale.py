"""``python -m bench.scale``: the featurize pipeline and PCA at growing N.

Each N runs in its own process (fresh Spark session and Python workers), so the
worker memory of one size does not carry into the next.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

COLUMNS = (
    ("images", "N"),
    ("pipeline_seconds", "pipeline s"),
    ("pipeline_images_per_second", "pipeline img/s"),
    ("limit_images_per_second", "limit img/s"),
    ("pipeline_over_limit", "pipeline/limit"),
    ("peak_rss_python_worker_mib", "worker RSS MiB"),
    ("peak_rss_jvm_mib", "JVM RSS MiB"),
    ("model_builds_by_worker", "builds/worker"),
    ("pca.k", "k"),
    ("pca.spark_fit_project_seconds", "Spark PCA s"),
    ("pca.sklearn_fit_project_seconds", "sklearn PCA s"),
)


def measure(size: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="fruits-scale-") as scratch:
        out = Path(scratch) / "result.json"
        command = [sys.executable, "-m", "bench.featurize", "--images", str(size), "--pca",
                   "--skip", "reference,keras_single", "--json", str(out), *extra]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def _cell(result: dict, key: str):
    section, _, name = key.partition(".")
    return result.get(section, {}).get(name) if name else result.get(key)


def table(results: list[dict]) -> str:
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(_cell(r, key)) for key, _ in COLUMNS) + " |" for r in results]
    return "\n".join(lines)


def growth(results: list[dict]) -> dict:
    """Linearity (seconds per 1,000 images) and worker memory growth from the 2nd to the last N."""
    per_thousand = {r["images"]: round(1000 * r["pipeline_seconds"] / r["images"], 2) for r in results}
    summary = {"pipeline_seconds_per_1000_images": per_thousand}
    if len(results) >= 2:
        before, after = results[-2]["peak_rss_python_worker_mib"], results[-1]["peak_rss_python_worker_mib"]
        summary[f"worker_rss_growth_{results[-2]['images']}_to_{results[-1]['images']}"] = round(after / before - 1, 3)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.scale", description=__doc__)
    parser.add_argument("--sizes", default="1200,5000,20000", help="comma-separated N")
    parser.add_argument("--json", type=Path, default=None, help="write every result here")
    args, extra = parser.parse_known_args(argv)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        results.append(measure(size, extra))
        print(table(results[-1:]).splitlines()[-1], flush=True)
    print("\n" + table(results))
    summary = growth(results)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"results": results, "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
