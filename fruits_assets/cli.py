"""Command line: ``python -m fruits_assets.cli {run,partitions,sample,upload,emr-plan,s3a-jars}``."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path

from . import sample, settings
from .settings import DeploymentError
from .resources.emr_release import UnsupportedRelease
from .resources.regions import RegionError
from .resources.s3a import S3AJarsError
from .resources.source import SourceError


def instance():
    """The Dagster instance under DAGSTER_HOME (default ``<home>/.dagster_home``)."""
    from dagster import DagsterInstance

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.project_home() / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    project_config = Path(__file__).resolve().parents[1] / "dagster.yaml"  # the checkout's instance config
    if project_config.exists() and not (home / "dagster.yaml").exists():
        shutil.copy(project_config, home / "dagster.yaml")
    return DagsterInstance.get()


def sync_partitions(dagster_instance, classes: list[str], prune: bool = False) -> tuple[list[str], list[str]]:
    """Add a ``fruit_class`` partition for each of ``classes`` not registered yet; with
    ``prune``, also remove the partitions of classes not in ``classes``. Return (added, removed)."""
    from .partitions import fruit_classes

    known = dagster_instance.get_dynamic_partitions(fruit_classes.name)
    added = [c for c in classes if c not in known]
    removed = [c for c in known if c not in classes] if prune else []
    dagster_instance.add_dynamic_partitions(fruit_classes.name, added)
    for key in removed:
        dagster_instance.delete_dynamic_partition(fruit_classes.name, key)
    return added, removed


@contextmanager
def deployment_resources(*names: str):
    """The definitions' resources ``names`` as a run sees them (their EnvVars read now)."""
    from dagster import build_resources

    from .definitions import defs

    with build_resources({name: defs.resources[name] for name in names}) as built:
        yield built


class ProgressBars:
    """A progress listener (``spark_jobs.progress``) drawing one bar per long step on
    ``file``: images done / total and images/s."""

    def __init__(self, file):
        self.file, self.bars = file, {}

    def __call__(self, what: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if what not in self.bars:
            self.bars[what] = tqdm(total=total, desc=f"  {what}", unit=" images", file=self.file,
                                   leave=False, dynamic_ncols=True, mininterval=0)
        bar = self.bars[what]
        bar.update(done - bar.n)
        if done >= total:
            self.bars.pop(what).close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


QUIET_RUN = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def report_steps(result) -> None:
    """One line per asset (how long, what it made) and one for the run's checks."""
    seconds = {e.step_key: e.event_specific_data.duration_ms / 1000 for e in result.all_events
               if e.event_type_value == "STEP_SUCCESS"}
    reported = set()
    for event in result.get_asset_materialization_events():
        asset = event.asset_key.path[-1]
        if asset in reported or asset not in seconds:
            continue
        reported.add(asset)
        metadata = event.materialization.metadata
        figures = ", ".join(f"{name} {metadata[name].value:g}" for name in STEP_FIGURES.get(asset, ()) if name in metadata)
        partitions = sum(1 for e in result.get_asset_materialization_events() if e.asset_key == event.asset_key)
        classes = f"{partitions} classes, " if event.partition else ""
        print(f"  {asset:<17}{seconds[asset]:7.1f} s  {classes}{figures}", flush=True)
    checks = result.get_asset_check_evaluations()
    if checks:
        failed = sorted({c.check_name for c in checks if not c.passed})
        print(f"  {'checks':<17}{len(checks) - sum(not c.passed for c in checks)} of {len(checks)} passed"
              + (f"; not passed: {', '.join(failed)}" if failed else ""), flush=True)


STEP_FIGURES = {
    "raw_images": ("ingested", "rejected", "unchanged_class_count", "images_per_second"),
    "image_features": ("inferred", "reused", "unchanged_class_count", "images_per_second"),
    "pca_model": ("k", "train_rows"),
    "pca_matrix": ("rows", "k"),
    "fruit_classifier": ("test_accuracy", "classes"),
}


def run_pipeline(k: int | None, variance_target: float | None, verbose: bool = False,
                 classes: list[str] | None = None) -> dict:
    """Materialize raw_images and image_features for ``classes`` (default: every class of
    the source) in one run per range of consecutive partitions (one, usually), then PCA
    and the classifier over every class with features."""
    from .spark_jobs import progress

    # Dagster captures a step's stderr (fd 2): the bars draw on a copy of the terminal's,
    # and only on a terminal (nothing is polled for a log file).
    with os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1) as terminal:
        bars = ProgressBars(file=terminal)
        listening = progress.listening(bars) if terminal.isatty() else nullcontext()
        with deployment_resources("source", "lake") as resources, listening:
            try:
                return _run_pipeline(instance(), resources, k, variance_target, verbose, classes)
            finally:
                bars.close()


def _run_pipeline(dagster_instance, resources, k, variance_target, verbose, classes) -> dict:
    from dagster import AssetKey

    from .definitions import defs
    from .jobs import IMAGE_ASSETS
    from .partitions import consecutive_runs, range_tags
    from .spark_jobs.pca import CSV_NAME

    source_classes = resources.source.classes()
    wanted = classes or source_classes
    unknown = sorted(set(wanted) - set(source_classes))
    if unknown:
        raise SourceError(f"--classes names class(es) the source does not have: {', '.join(unknown)}.")
    sync_partitions(dagster_instance, wanted)
    keys = dagster_instance.get_dynamic_partitions("fruit_class")
    job = defs.resolve_implicit_global_asset_job_def()
    logging = {} if verbose else QUIET_RUN
    print(f"fruits_assets: {len(wanted)} classes from {resources.source.resolved_root()} into {resources.lake.root}",
          flush=True)
    runs = []
    for first, last in consecutive_runs(keys, wanted):
        images = job.execute_in_process(
            instance=dagster_instance,
            asset_selection=[AssetKey(name) for name in IMAGE_ASSETS],
            tags=range_tags(first, last),
            run_config=logging,
            raise_on_error=True,
        )
        report_steps(images)
        runs.append(images.run_id)
    target = None if k is not None else variance_target
    pca = job.execute_in_process(
        instance=dagster_instance,
        asset_selection=[AssetKey("pca_model"), AssetKey("pca_matrix"), AssetKey("fruit_classifier")],
        run_config={"ops": {"pca_model": {"config": {"k": k, "variance_target": target}}}, **logging},
        raise_on_error=True,
    )
    report_steps(pca)
    lake = resources.lake
    model = lake.manifest("pca_model")
    matrix_version, matrix = lake.current_manifest("pca_matrix")
    features = lake.manifest("image_features", wanted[0])
    recognition = lake.manifest("fruit_classifier")
    return {
        "runs": [*runs, pca.run_id],
        "classes": len(wanted),
        "rows": matrix["rows"],
        "k": model["k"],
        "cumulative_variance": model["cumulative_variance"][-1],
        "weights": features["weights"],
        "csv": f"{lake.store().uri(matrix_version)}/{CSV_NAME}",
        "test_accuracy": f"{recognition['accuracy']:.3f} (floor {recognition['accuracy_floor']:.3f}, "
                         f"top-{recognition['top_k']} {recognition['top_k_accuracy']:.3f})",
    }


def upload(args) -> int:
    from .resources.object_store import s3_client
    from .upload import upload as upload_tree

    report = upload_tree(
        Path(args.source), args.destination, s3_client(), workers=args.workers, dry_run=args.dry_run,
        allow_non_eu=settings.allow_non_eu_region(),
    )
    verb = "would send" if args.dry_run else "sent"
    if args.dry_run:
        for item in report.sent:
            print(f"  {item.key}  ({item.size} bytes)")
    print(f"{report.files} files: {verb} {len(report.sent)} ({report.bytes_sent / 1e6:.1f} MB), "
          f"{report.skipped} already in {args.destination}")
    return 0


def emr_plan(args) -> int:
    """Print the run_job_flow request a run would send, an example step, the bootstrap
    script and the estimated hourly cost."""
    import json

    from dagster import build_resources
    from dagster_aws.s3 import S3Resource

    from .deployments import check_aws_settings, emr_spark
    from .spark_jobs.contracts import IngestParams

    check_aws_settings(require_credentials=False)
    with build_resources({"spark": emr_spark(S3Resource())}) as resources:
        runtime = resources.spark
    staged = runtime.staged_uris()
    release = runtime.release
    print(json.dumps({
        "run_job_flow": runtime.job_flow_request("<dagster run id>", staged),
        "example_step": runtime.step_request(
            IngestParams(source_root="<source>", lake_root="<lake>", classes=["<class>"]), staged["entry"], {"DAGSTER_PIPES_CONTEXT": "<set at launch>", "DAGSTER_PIPES_MESSAGES": "<set at launch>"},
        ),
    }, indent=2))
    print(f"\nRelease {release.label}: S3 connector {release.s3_connector}, steps run {release.python}.")
    print(f"Bootstrap ({staged['bootstrap']}):\n{runtime.bootstrap()}")
    prices = runtime.hourly_prices()
    if prices is None:
        print(f"Estimated cost: unknown for {runtime.primary_instance_type} / {runtime.core_instance_type} "
              f"in {runtime.region}; see aws.amazon.com/ec2/pricing and aws.amazon.com/emr/pricing.")
        return 0
    print(f"Estimated cost (an estimate from on-demand list prices in {runtime.region}, not a quote):")
    for kind, count, ec2, emr in prices:
        print(f"  {count} x {kind}: EC2 ${ec2:.3f}/h + EMR ${emr:.3f}/h = ${count * (ec2 + emr):.3f}/h")
    print(f"  total: about ${runtime.hourly_cost():.2f}/hour on demand "
          f"(the cluster stops after {runtime.idle_timeout_seconds} s idle).")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fruits_assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize every asset on FRUITS_SOURCE (or the sample)")
    run.add_argument("--k", type=int, default=None, help="fixed number of components")
    run.add_argument("--variance-target", type=float, default=0.95)
    run.add_argument("--classes", nargs="+", metavar="CLASS", default=None,
                     help="only these classes (default: every class of the source); PCA and the classifier refit on every class with features")
    run.add_argument("-v", "--verbose", action="store_true",
                     help="show every Dagster event and library warning (also FRUITS_LOG_LEVEL=DEBUG)")
    partitions = commands.add_parser("partitions", help="register every class folder of the source as a partition")
    partitions.add_argument("--prune", action="store_true",
                            help="also remove the partitions of classes the source no longer has (their lake data stays)")
    commands.add_parser("sample", help="write the embedded synthetic sample to <home>/.sample")
    send = commands.add_parser("upload", help="upload a local Fruits-360 tree to s3:// (resumable)")
    send.add_argument("source", help="local folder holding Training/ and Test/")
    send.add_argument("destination", help="s3://bucket/prefix (the FRUITS_SOURCE of the aws deployment)")
    send.add_argument("--workers", type=int, default=16, help="parallel uploads")
    send.add_argument("--dry-run", action="store_true", help="list what would be sent and its size")
    commands.add_parser("emr-plan", help="print the EMR request a run would send, and its hourly cost")
    commands.add_parser("s3a-jars", help="fetch and cache the S3A jars local Spark needs for s3a:// (FRUITS_S3A_JARS)")
    args = parser.parse_args(argv)
    try:
        return dispatch(args)
    except (DeploymentError, RegionError, SourceError, S3AJarsError, UnsupportedRelease) as exc:
        print(f"fruits_assets: {exc}", file=sys.stderr)
        return 2


def quiet_library_warnings() -> None:
    """Keep Dagster's Beta/Preview notices (about its own APIs) off the user's screen."""
    import warnings

    from dagster import BetaWarning, PreviewWarning

    for category in (BetaWarning, PreviewWarning):
        warnings.filterwarnings("ignore", category=category)


def dispatch(args) -> int:
    if args.command == "upload":
        return upload(args)
    if args.command == "emr-plan":
        return emr_plan(args)
    if args.command == "s3a-jars":
        from .resources.s3a import jars_conf

        for key, value in jars_conf(settings.s3a_jars()).items():
            print(f"{key}={value}")
        return 0

    if settings.deployment() == "aws" and args.command in ("run", "partitions"):
        from .deployments import check_aws_settings

        check_aws_settings()  # before any work: every missing setting, credentials included, in one message
    if args.command == "sample":
        print(sample.generate(settings.sample_dir()))
        return 0
    if args.command == "partitions":
        with deployment_resources("source") as resources:
            added, removed = sync_partitions(instance(), resources.source.classes(), prune=args.prune)
        print(f"fruit_class partitions: {len(added)} added, {len(removed)} removed"
              + ("" if args.prune else " (partitions of classes absent from the source are kept: --prune removes them)"))
        return 0
    verbose = args.verbose or os.environ.get("FRUITS_LOG_LEVEL", "").upper() == "DEBUG"
    if not verbose:
        quiet_library_warnings()
    summary = run_pipeline(args.k, args.variance_target, verbose, args.classes)
    print("\nfruits_assets: pipeline complete")
    for key, value in summary.items():
        print(f"  {key:>20}: {value}")
    if summary["weights"] != "imagenet":
        print("  WARNING: features use random weights (ImageNet weights were not obtainable).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
