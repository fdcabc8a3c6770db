"""Discovery of fruit classes in the source."""


import json

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from .assets import image_features, raw_images
from .partitions import fruit_classes
from .resources import FruitSource
from .spark_jobs.layout import InvalidPartitionKey, check_partition_key


@sensor(
    asset_selection=[raw_images, image_features],
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
)
def fruit_class_sensor(context: SensorEvaluationContext, source: FruitSource):
    """Adds new class folders as partitions and requests runs for new classes and
    for classes whose files changed. The cursor holds each class's signature."""
    seen = json.loads(context.cursor) if context.cursor else {}
    current = {}
    for name, signature in source.class_signatures().items():
        try:
            current[check_partition_key(name)] = signature
        except InvalidPartitionKey as exc:
            context.log.warning(str(exc))
    known = set(context.instance.get_dynamic_partitions(fruit_classes.name))
    new = sorted(c for c in current if c not in known)
    changed = sorted(c for c in current if c in known and c in seen and seen[c] != current[c])
    if not new and not changed:
        return SkipReason("No new or changed fruit classes.")
    return SensorResult(
        run_requests=[RunRequest(partition_key=c, run_key=f"{c}:{current[c]}") for c in new + changed],
        dynamic_partitions_requests=[fruit_classes.build_add_request(new)] if new else [],
        cursor=json.dumps(current, sort_keys=True),
    )
