"""One partition per fruit class (the class folder name, e.g. ``Apple Braeburn 1``): which
folder names can be one, and runs over several classes (a range of consecutive partitions).

A class name works everywhere (the source listing, Spark's file reader, the Delta
tables, Dagster's partitions and the UI's range syntax, the CSV) unless it:
- is empty, starts or ends with a space, or starts with '.' or '_' (Spark and Hadoop
  take such files and folders for hidden ones);
- holds '/', '\\', ':', a glob character ('[', ']', '{', '}', '*', '?') or a control
  character (Hadoop paths: a colon is read as a URI scheme, a glob as a pattern);
- holds '...' (Dagster's range syntax);
- would make a Delta partition folder (``label=`` and the name, escaped) longer than 255
  bytes, the file-name limit of common file systems.
Commas, apostrophes, accents and runs of spaces work (the UI quotes such keys).
"""

from __future__ import annotations

import re

from dagster import DynamicPartitionsDefinition

fruit_classes = DynamicPartitionsDefinition(name="fruit_class")

# The run tags Dagster reads for a run over a partition range (as the UI's backfills set them).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

_FORBIDDEN = re.compile(r"[/\\:\[\]{}*?\x00-\x1f\x7f]")
# What Spark escapes (as %XX) in a partition folder's name, after "label=".
_ESCAPED = set('"#%\'*/:=?\\{[]^\x7f') | {chr(c) for c in range(1, 32)}
MAX_FOLDER_BYTES = 255


class InvalidClassNames(ValueError):
    """Class folder names that cannot be partitions; the message lists them and why."""


def partition_folder(name: str) -> str:
    """The folder Spark writes a Delta partition of class ``name`` into."""
    return "label=" + "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in name)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a fruit class, or None."""
    if not name or name != name.strip():
        return "is empty or starts or ends with a space"
    if name[0] in "._":
        return "starts with '.' or '_' (hidden to Spark and Hadoop)"
    if found := sorted(set(_FORBIDDEN.findall(name))):
        return f"holds {' '.join(repr(c) for c in found)} (not allowed in a Hadoop path)"
    if "..." in name:
        return "holds '...' (Dagster's partition range syntax)"
    if (size := len(partition_folder(name).encode())) > MAX_FOLDER_BYTES:
        return f"is too long: its table folder would be {size} bytes, over {MAX_FOLDER_BYTES}"
    return None


def check_class_names(names: list[str]) -> list[str]:
    """``names`` if every one can be a fruit class; else raise, listing each bad name and why."""
    bad = {name: problem for name in names if (problem := name_problem(name))}
    if bad:
        listed = "\n".join(f"  - {name!r} {problem}" for name, problem in sorted(bad.items()))
        raise InvalidClassNames(
            f"{len(bad)} class folder name(s) cannot be fruit classes; rename the folders (in both "
            f"Training/ and Test/), then run again:\n{listed}"
        )
    return names


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
