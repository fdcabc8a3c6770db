"""How far a job's long Spark action has got, in images, for whoever listens.

A job wraps its long actions in ``tracking(spark, what, total)``. While one runs, a
thread polls Spark's status tracker and reports ``(what, done, total)``: ``done`` is the
share of finished tasks of the action's latest stage (the one doing the work: the
earlier ones read and shuffle) times ``total``, never going back. Nobody listens by
default (EMR steps, runs in the UI): then nothing is polled. The CLI listens and draws
a bar (``listening``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession

Listener = Callable[[str, int, int], None]  # (what, images done, images in all)
_LISTENERS: list[Listener] = []
POLL_SECONDS = 0.5


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send the progress of every tracked action to ``listener`` while in this block."""
    _LISTENERS.append(listener)
    try:
        yield
    finally:
        _LISTENERS.remove(listener)


def _report(what: str, done: int, total: int) -> None:
    for listener in list(_LISTENERS):
        listener(what, done, total)


@contextmanager
def tracking(spark: SparkSession, what: str, total: int, done_before: int = 0, of: int | None = None) -> Iterator[None]:
    """Report the progress of the Spark work done in this block: ``total`` images, after
    ``done_before`` already done, out of ``of`` in all (default: ``done_before + total``)."""
    of = done_before + total if of is None else of
    if not _LISTENERS or total <= 0:
        yield
        return
    tracker = spark.sparkContext.statusTracker()
    stop = threading.Event()
    shown = [done_before]

    def poll() -> None:
        while not stop.wait(POLL_SECONDS):
            stages = tracker.getActiveStageIds()  # one action runs at a time in a job
            info = tracker.getStageInfo(max(stages)) if stages else None
            if info and info.numTasks:
                shown[0] = max(shown[0], done_before + total * info.numCompletedTasks // info.numTasks)
                _report(what, shown[0], of)

    _report(what, done_before, of)
    thread = threading.Thread(target=poll, name=f"progress:{what}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    _report(what, done_before + total, of)
