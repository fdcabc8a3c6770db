"""One partition per fruit class (the class folder name, e.g. ``Apple Braeburn 1``), and
runs over several classes: a run covers a range of consecutive partitions."""

from dagster import DynamicPartitionsDefinition

fruit_classes = DynamicPartitionsDefinition(name="fruit_class")

# The run tags Dagster reads for a run over a partition range (as the UI's backfills set them).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: str, last: str) -> dict[str, str]:
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def consecutive_runs(ordered: list[str], wanted: list[str]) -> list[tuple[str, str]]:
    """(first, last) of each run of consecutive keys of ``ordered`` that are all in ``wanted``:
    the fewest single-run ranges covering exactly ``wanted``."""
    wanted_set, runs, start, previous = set(wanted), [], None, None
    for key in ordered:
        if key in wanted_set:
            start = key if start is None else start
            previous = key
        elif start is not None:
            runs.append((start, previous))
            start = None
    if start is not None:
        runs.append((start, previous))
    return runs
