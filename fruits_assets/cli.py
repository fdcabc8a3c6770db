"""Command line: ``fruits-assets {run,partitions,vacuum,migrate-lake,sample,upload,emr-plan}``.

``run`` launches the project's named jobs with Dagster's API (``images_by_class`` over the
ranges of the classes that are stale or missing, as the UI's "Materialize stale and
missing" does, then ``refit_model``) and prints what their materializations say; the
jobs decide what to compute. It orchestrates nothing of its own.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

from . import sample, settings
from .partitions import InvalidClassNames
from .report import Runs, failure_block, summary
from .resources.emr_release import UnsupportedRelease
from .resources.lake import LakeLayoutError
from .resources.regions import RegionError
from .resources.source import SourceError
from .settings import DeploymentError

QUIET_LOG_LEVEL = "OFF"  # the JVM's console log level in a run without -v
EXIT_FAILED = 1  # a step failed
EXIT_REFUSED = 2  # refused before any work: settings, source, class names


def instance():
    """The Dagster instance of ``DAGSTER_HOME`` (default ``<home>/.dagster_home``, which
    ``make`` sets up with the project's dagster.yaml)."""
    from dagster import DagsterInstance

    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.project_home() / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    return DagsterInstance.get()


def definitions():
    from .definitions import defs

    return defs()


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


def source_classes(defs, check_lake: bool = False) -> tuple[str, str, dict[str, list]]:
    """(the source's and the lake's locations, the source's files by class folder, in name
    order), after the checks that refuse a run before any work: every class name can be a
    partition, and with ``check_lake`` the lake is ready (writable, in the EU, of this layout)."""
    from dagster import build_resources

    from .partitions import check_class_names

    with build_resources({"source": defs.resources["source"], "lake": defs.resources["lake"]}) as built:
        if check_lake:
            built.lake.check_ready()
        listed = built.source.listing()
        classes = check_class_names(sorted(listed))
        return built.source.resolved_root(), built.lake.root, {c: listed[c] for c in classes}


def stale_or_missing(defs, dagster_instance, listed: dict[str, list]) -> list[str]:
    """The classes of ``listed`` (their files, as listed) that ``images_by_class`` would
    change (``defs.stale``)."""
    from dagster import build_resources

    from .defs.stale import stale_classes
    from .spark_jobs.mobilenet import cache_key

    with build_resources({"lake": defs.resources["lake"]}) as built:
        def model_id() -> str:
            with build_resources({"model": defs.resources["model"]}) as resources:
                spec = resources.model.prepare(built.lake)
            return cache_key(spec, spec.weights)

        return stale_classes(dagster_instance, listed, built.lake, model_id)


def console(verbose: bool) -> dict:
    """Run config of Dagster's console logger: every event with -v, else none (the CLI prints
    its own lines, and one block when a step fails)."""
    return {} if verbose else {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def run(args) -> int:
    """Launch ``images_by_class`` for each range of the wanted classes that are stale or
    missing, then ``refit_model``."""
    from .partitions import consecutive_runs, fruit_classes, range_tags

    defs, dagster_instance = definitions(), instance()
    root, lake, listed = source_classes(defs, check_lake=True)
    wanted = args.classes or list(listed)
    if unknown := sorted(set(wanted) - set(listed)):
        raise SourceError(f"--classes names class(es) the source does not have: {', '.join(unknown)}.")
    sync_partitions(dagster_instance, wanted)
    print(f"fruits_assets: {len(wanted)} classes from {root} into {lake}", flush=True)
    stale = stale_or_missing(defs, dagster_instance, {c: listed[c] for c in wanted})
    logging = console(args.verbose)
    target = None if args.k is not None else args.variance_target
    launches = [
        ("images_by_class", range_tags(first, last), logging)
        for first, last in consecutive_runs(dagster_instance.get_dynamic_partitions(fruit_classes.name), stale)
    ]
    launches.append(("refit_model", {}, {**logging, "ops": {"pca_model": {"config": {"k": args.k, "variance_target": target}}}}))
    runs = Runs()
    if len(stale) < len(wanted):
        runs.up_to_date(len(wanted) - len(stale), dagster_instance)
    for job_name, tags, run_config in launches:
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=dagster_instance, tags=tags, run_config=run_config, raise_on_error=False,
        )
        runs.add(result)
        if not result.success:
            print(failure_block(result, runs, args.verbose), file=sys.stderr, flush=True)
            return EXIT_FAILED
    print("\n".join(summary(runs)))
    return 0


def partitions(args) -> int:
    defs = definitions()
    *_, listed = source_classes(defs)
    added, removed = sync_partitions(instance(), list(listed), prune=args.prune)
    print(f"fruit_class partitions: {len(added)} added, {len(removed)} removed"
          + ("" if args.prune else " (partitions of classes absent from the source are kept: --prune removes them)"))
    return 0


def vacuum(args) -> int:
    result = definitions().resolve_job_def("vacuum_lake").execute_in_process(
        instance=instance(), raise_on_error=False,
        run_config={**console(args.verbose), "ops": {op: {"config": {"retention_hours": args.retention_hours}}
                                                     for op in ("vacuum_tables", "remove_superseded_versions")}},
    )
    if not result.success:
        print(failure_block(result, Runs(), args.verbose), file=sys.stderr)
        return EXIT_FAILED
    print(f"vacuum_lake: done (run {result.run_id}; what was deleted is in its log: make ui)")
    return 0


def migrate(args) -> int:
    result = definitions().resolve_job_def("migrate_lake").execute_in_process(
        instance=instance(), raise_on_error=False, run_config=console(args.verbose))
    if not result.success:
        print(failure_block(result, Runs(), args.verbose), file=sys.stderr)
        return EXIT_FAILED
    print("migrate_lake: the lake's tables are Delta tables now. The next `fruits-assets run` reads the source "
          "files once more (the old layout kept no modification times) and reuses every feature; PCA, the CSV "
          "and the classifier are computed anew. The old folders (data/, models/pca, models/classifier, meta/) "
          "are left as they were: delete them once satisfied.")
    return 0


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
    example = IngestParams(source_root="<source>", raw_images="<lake>/tables/raw_images",
                           rejected_images="<lake>/tables/rejected_images", classes=["<class>"])
    print(json.dumps({
        "run_job_flow": runtime.job_flow_request("<dagster run id>", staged),
        "example_step": runtime.step_request(example, staged["entry"], result_uri="<staging>/results/<run id>/<id>.json"),
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


def parser() -> argparse.ArgumentParser:
    parsed = argparse.ArgumentParser(prog="fruits-assets", description=__doc__.splitlines()[0])
    commands = parsed.add_subparsers(dest="command", required=True)
    launching = argparse.ArgumentParser(add_help=False)
    launching.add_argument("-v", "--verbose", action="store_true",
                           help="show every Dagster event, library warning and Spark log line (also FRUITS_LOG_LEVEL=DEBUG)")
    run_command = commands.add_parser("run", parents=[launching], help="materialize every asset on FRUITS_SOURCE (or the sample)")
    run_command.add_argument("--k", type=int, default=None, help="fixed number of components")
    run_command.add_argument("--variance-target", type=float, default=0.95)
    run_command.add_argument("--classes", nargs="+", metavar="CLASS", default=None,
                             help="only these classes (default: every class of the source); "
                                  "PCA and the classifier refit on every class with features")
    partitions_command = commands.add_parser("partitions", help="register every class folder of the source as a partition")
    partitions_command.add_argument("--prune", action="store_true",
                                    help="also remove the partitions of classes the source no longer has (their lake data stays)")
    vacuum_command = commands.add_parser("vacuum", parents=[launching],
                                         help="launch vacuum_lake: VACUUM the tables, remove superseded versions")
    vacuum_command.add_argument("--retention-hours", type=int, default=168)
    commands.add_parser("migrate-lake", parents=[launching],
                        help="launch migrate_lake: convert a lake of the versioned-folder layout into Delta tables, once")
    commands.add_parser("sample", help="write the embedded synthetic sample to <home>/.sample")
    send = commands.add_parser("upload", help="upload a local Fruits-360 tree to s3:// (resumable)")
    send.add_argument("source", help="local folder holding Training/ and Test/")
    send.add_argument("destination", help="s3://bucket/prefix (the FRUITS_SOURCE of the aws deployment)")
    send.add_argument("--workers", type=int, default=16, help="parallel uploads")
    send.add_argument("--dry-run", action="store_true", help="list what would be sent and its size")
    commands.add_parser("emr-plan", help="print the EMR request a run would send, and its hourly cost")
    return parsed


COMMANDS = {"run": run, "partitions": partitions, "vacuum": vacuum, "migrate-lake": migrate, "upload": upload,
            "emr-plan": emr_plan}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.verbose = getattr(args, "verbose", False) or os.environ.get("FRUITS_LOG_LEVEL", "").upper() == "DEBUG"
    if not args.verbose:
        warnings.filterwarnings("ignore")  # library notices (Dagster's beta and preview APIs, pandas, Spark)
        # Dagster's plan notes that per-class check evaluations are not step outputs (a failed
        # blocking one still fails its step, so nothing downstream runs on bad data).
        logging.getLogger("dagster._core.execution.plan.active").setLevel(logging.ERROR)
        os.environ.setdefault("FRUITS_SPARK_LOG_LEVEL", QUIET_LOG_LEVEL)
    try:
        if args.command == "sample":
            print(sample.generate(settings.sample_dir()))
            return 0
        if settings.deployment() == "aws" and args.command in ("run", "partitions", "vacuum"):
            from .deployments import check_aws_settings

            check_aws_settings()  # before any work: every missing setting, credentials included, in one message
        return COMMANDS[args.command](args)
    except (DeploymentError, RegionError, SourceError, InvalidClassNames, UnsupportedRelease, LakeLayoutError,
            PermissionError) as exc:
        print(f"fruits_assets: {exc}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
