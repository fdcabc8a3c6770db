"""Spread the rows of many classes over Spark tasks as contiguous runs of classes.

Each task gets about the same number of rows and a few consecutive classes,
sorted by class. A class on a boundary is shared by two tasks, its rows split by
a hash of ``image_id``. A task then writes one file per class it holds; a
round-robin spread would write a file per class per task.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

_HASH_RANGE = 2**31


@dataclass(frozen=True)
class Share:
    """The rows of ``label`` whose hash fraction lies in [start, end)."""

    label: str
    start: float
    end: float

    @property
    def whole(self) -> bool:
        return self.start == 0.0 and self.end == 1.0


def plan(counts: list[tuple[str, int]], tasks: int) -> list[list[Share]]:
    """Consecutive shares of the classes, in order, for at most ``tasks`` tasks and at
    most one task per row."""
    total = sum(rows for _, rows in counts)
    tasks = min(tasks, total)
    runs: list[list[Share]] = [[] for _ in range(tasks)]
    offset = 0
    for label, rows in counts:
        if rows == 0:
            continue
        first, last = offset * tasks // total, (offset + rows - 1) * tasks // total
        for task in range(first, last + 1):
            start = max(offset, task * total / tasks)
            end = min(offset + rows, (task + 1) * total / tasks)
            runs[task].append(Share(label, (start - offset) / rows, (end - offset) / rows))
        offset += rows
    return runs


def _fraction() -> Column:
    """A uniform, deterministic number in [0, 1) per image."""
    return F.pmod(F.xxhash64("image_id"), F.lit(_HASH_RANGE)) / _HASH_RANGE


def _selects(share: Share) -> Column:
    condition = F.col("label") == share.label
    if share.start > 0.0:
        condition &= _fraction() >= share.start
    if share.end < 1.0:
        condition &= _fraction() < share.end
    return condition


def read_runs(read: Callable[[list[str]], DataFrame], runs: list[list[Share]]) -> DataFrame:
    """One partition per run, reading only that run's classes (``read``: classes -> their rows)."""
    parts = []
    for run in runs:
        part = read(list(dict.fromkeys(share.label for share in run)))
        if not all(share.whole for share in run):
            part = part.where(reduce(lambda a, b: a | b, map(_selects, run)))
        parts.append(part.coalesce(1))
    return reduce(DataFrame.union, parts)
