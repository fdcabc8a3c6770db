"""Discovery of fruit classes in the source."""

import hashlib
import json

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from ...partitions import consecutive_runs, fruit_classes, name_problem, range_tags
from ...resources import FruitSource
from .. import jobs


@sensor(job=jobs.images_by_class, minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED)
def fruit_class_sensor(context: SensorEvaluationContext, source: FruitSource):
    """Adds new class folders as partitions and requests ONE run over the new and changed
    classes (one per run of consecutive partitions, when they are not consecutive: new
    classes always are). The cursor holds each class's signature. A folder whose name
    cannot be a class is left out, with a warning that says why."""
    seen = json.loads(context.cursor) if context.cursor else {}
    current = {}
    for name, signature in source.class_signatures().items():
        if problem := name_problem(name):
            context.log.warning(f"Class folder {name!r} {problem}: rename it to ingest it.")
        else:
            current[name] = signature
    registered = context.instance.get_dynamic_partitions(fruit_classes.name)
    known = set(registered)
    new = sorted(c for c in current if c not in known)
    changed = sorted(c for c in current if c in known and c in seen and seen[c] != current[c])
    if not new and not changed:
        return SkipReason("No new or changed fruit classes.")
    ordered = registered + new  # the new partitions are added after the known ones
    requests = []
    for first, last in consecutive_runs(ordered, new + changed):
        covered = ordered[ordered.index(first) : ordered.index(last) + 1]
        run_key = hashlib.sha256(json.dumps({c: current[c] for c in covered}).encode()).hexdigest()[:16]
        requests.append(RunRequest(run_key=run_key, tags=range_tags(first, last)))
    return SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[fruit_classes.build_add_request(new)] if new else [],
        cursor=json.dumps(current, sort_keys=True),
    )
