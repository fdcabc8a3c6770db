"""What ``fruits-assets run`` prints: a line per asset and per run's checks, a closing
summary, or one short block when a step failed; all read from the runs' events."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dagster import AssetKey, DagsterEventType, DagsterInstance, ExecuteInProcessResult

from .partitions import RANGE_END_TAG, RANGE_START_TAG

FIGURES = {  # the metadata each asset's line shows, in order
    "raw_images": ("dagster/row_count", "rejected", "ingested_classes", "unchanged_classes", "files_per_second"),
    "rejected_images": ("dagster/row_count",),
    "mobilenet_v2": ("weights", "backend"),
    "image_features": ("inferred", "reused", "written_classes", "unchanged_classes", "images_per_second"),
    "pca_model": ("k", "train_rows", "unchanged"),
    "pca_matrix": ("dagster/row_count", "k", "unchanged"),
    "fruit_classifier": ("accuracy", "evaluation", "classes", "unchanged"),
}
NAMES = {"dagster/row_count": "rows"}


@dataclass
class Materialized:
    """An asset's latest materialization in the runs, and for how many partitions."""

    metadata: dict
    partitions: int
    seconds: float | None


@dataclass
class Runs:
    """What the CLI's runs did, in order."""

    assets: dict[str, Materialized] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def add(self, result: ExecuteInProcessResult) -> None:
        """Record a finished run and print its lines."""
        seconds = {e.step_key: e.event_specific_data.duration_ms / 1000 for e in result.all_events
                   if e.event_type == DagsterEventType.STEP_SUCCESS}
        failed = {e.step_key for e in result.get_step_failure_events()}
        events = [e for e in result.get_asset_materialization_events() if e.step_key not in failed]
        counts = Counter(e.asset_key.path[-1] for e in events)
        first = {}
        for event in events:
            first.setdefault(event.asset_key.path[-1], event)
        for name, event in first.items():
            metadata = {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}
            self.assets[name] = Materialized(metadata, counts[name], seconds.get(event.step_key))
            self._line(name, self.assets[name], bool(event.partition))
        evaluations = result.get_asset_check_evaluations()
        per_class = {(e.asset_key, e.check_name) for e in evaluations if e.partition}
        evaluations = [e for e in evaluations if e.partition or (e.asset_key, e.check_name) not in per_class]
        if evaluations:
            failed = Counter(e.check_name for e in evaluations if not e.passed)
            shown = "; not passed: " + ", ".join(f"{n} ({c})" for n, c in sorted(failed.items())) if failed else ""
            self._print(f"  {'checks':<17}{len(evaluations) - sum(failed.values())} of {len(evaluations)} passed{shown}")

    def up_to_date(self, classes: int, instance: DagsterInstance) -> None:
        """Print that ``classes`` classes were up to date (not launched); keep the latest
        ``image_features`` materialization, whose figures the summary shows."""
        self._print(f"  {'images_by_class':<17}{'':9}  {classes} classes up to date (files and features unchanged): "
                    "not launched for them")
        if event := instance.get_latest_materialization_event(AssetKey("image_features")):
            metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()}
            self.assets["image_features"] = Materialized(metadata, 0, None)

    def _line(self, name: str, materialized: Materialized, partitioned: bool) -> None:
        metadata = materialized.metadata
        figures = [f"{NAMES.get(k, k)} {_shown(metadata[k])}" for k in FIGURES.get(name, ()) if k in metadata]
        classes = [f"{materialized.partitions} class{'es' if materialized.partitions != 1 else ''}"] if partitioned else []
        seconds = f"{materialized.seconds:7.1f} s" if materialized.seconds is not None else " " * 9
        self._print(f"  {name:<17}{seconds}  {', '.join(classes + figures)}")

    def _print(self, line: str) -> None:
        self.lines.append(line)
        print(line, flush=True)


def _shown(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def summary(runs: Runs) -> list[str]:
    """The closing lines of a run that went to the end: where the CSV is, its size, the
    PCA's k and variance, the weights and the classifier's accuracy."""
    matrix, model, recognition = (runs.assets[n].metadata for n in ("pca_matrix", "pca_model", "fruit_classifier"))
    features = runs.assets.get("image_features")
    figures = {
        "csv": matrix["dagster/uri"],
        "rows": matrix["dagster/row_count"],
        "k": model["k"],
        "cumulative_variance": round(model["cumulative_variance"], 4),
        "weights": features.metadata["weights"] if features else "?",
        "accuracy": (f"{recognition['accuracy']:.3f} ({recognition['evaluation']}, floor {recognition['accuracy_floor']:.3f})"
                     if recognition["evaluated"] else f"not evaluated: {recognition['evaluation_reason']}"),
    }
    lines = ["", "fruits_assets: pipeline complete", *(f"  {key:>20}: {value}" for key, value in figures.items())]
    if figures["weights"] not in ("imagenet", "?"):
        lines.append("  WARNING: features use random weights (ImageNet weights were not obtainable).")
    return lines


def failure_block(result: ExecuteInProcessResult, runs: Runs, verbose: bool) -> str:
    """One short block: which asset failed (and for which classes), the error's own
    message, what is kept, and where the whole story is."""
    failure = result.get_step_failure_events()[0] if result.get_step_failure_events() else None
    step = failure.step_key if failure else "the run"
    message = _message(failure.event_specific_data.error) if failure else "the run did not finish"
    tags = result.dagster_run.tags
    classes = ""
    if RANGE_START_TAG in tags:
        first, last = tags[RANGE_START_TAG], tags[RANGE_END_TAG]
        classes = f" for classes {first!r}" + (f" to {last!r}" if last != first else "")
    kept = [f"{name} ({m.partitions} classes)" if m.partitions > 1 else name for name, m in runs.assets.items()]
    committed = sorted({e.partition for e in result.get_asset_materialization_events()
                        if e.partition and e.step_key == step})
    lines = [
        f"fruits_assets: FAILED at {step}{classes}",
        f"  {message}",
        f"  kept: {', '.join(kept) if kept else 'nothing new'}"
        + (f"; committed before the failure: {len(committed)} class(es)" if committed else ""),
        f"  full log: run {result.run_id} in the Dagster UI (make ui)" + ("" if verbose else ", or run again with -v"),
    ]
    return "\n".join(lines)


def _message(error) -> str:
    """The first line of the innermost error's own message, without its class name."""
    while error.cause is not None and "Error occurred while executing" in error.message:
        error = error.cause
    first = next((line for line in error.message.splitlines() if line.strip()), error.cls_name or "error")
    for prefix in (f"{error.cls_name}: ", f"dagster._core.definitions.events.{error.cls_name}: "):
        first = first.removeprefix(prefix)
    return first.strip()
