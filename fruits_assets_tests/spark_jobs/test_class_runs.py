"""Spreading classes over tasks: balanced, contiguous, every row exactly once."""

import random
from collections import Counter

import pytest

from fruits_assets.spark_jobs import tables
from fruits_assets.spark_jobs.class_runs import Share, plan, read_runs


def _rows(run: list[Share], counts: dict[str, int]) -> float:
    return sum(counts[s.label] * (s.end - s.start) for s in run)


def _check(counts: list[tuple[str, int]], tasks: int) -> list[list[Share]]:
    runs = plan(counts, tasks)
    by_label = dict(counts)
    total = sum(by_label.values())
    assert len(runs) == min(tasks, total)
    for run in runs:  # the same share of the rows each
        assert _rows(run, by_label) == pytest.approx(total / len(runs))
    order = [label for label, rows in counts if rows]
    visited = [s.label for run in runs for s in run]
    assert [label for i, label in enumerate(visited) if i == 0 or visited[i - 1] != label] == order
    for label in order:  # the shares of a class tile [0, 1) exactly, in order
        shares = [s for run in runs for s in run if s.label == label]
        assert shares[0].start == 0.0 and shares[-1].end == 1.0
        assert all(a.end == b.start for a, b in zip(shares, shares[1:]))
    return runs


@pytest.mark.fast
def test_equal_classes_split_at_a_class_boundary():
    runs = _check([(f"c{i:02d}", 50) for i in range(24)], 2)
    assert all(s.whole for run in runs for s in run)
    assert [len(run) for run in runs] == [12, 12]


@pytest.mark.fast
def test_one_class_is_shared_by_every_task():
    runs = _check([("Apple", 490)], 4)
    assert [(s.start, s.end) for run in runs for s in run] == [(0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)]


@pytest.mark.fast
def test_uneven_and_empty_classes():
    runs = _check([("a", 7), ("b", 0), ("c", 120), ("d", 3)], 4)
    assert "b" not in {s.label for run in runs for s in run}


@pytest.mark.fast
@pytest.mark.parametrize("seed", range(20))
def test_random_layouts(seed):
    rng = random.Random(seed)
    counts = [(f"c{i:03d}", rng.choice([0, 1, 2, rng.randint(0, 5000)])) for i in range(rng.randint(1, 40))]
    if sum(n for _, n in counts):
        _check(counts, rng.randint(1, 30))


@pytest.mark.fast
def test_no_rows_no_runs():
    assert plan([("a", 0), ("b", 0)], 2) == []


def test_read_runs_gives_one_partition_per_run_and_every_row_once(spark, tmp_path):
    counts = [("a", 30), ("b", 200), ("c", 10), ("d", 160)]
    location = f"file://{tmp_path / 'table'}"
    rows = [(f"{label}-{i}", label) for label, n in counts for i in range(n)]
    spark.createDataFrame(rows, "image_id string, label string").repartition(3).write.format("delta") \
        .partitionBy("label").save(location)
    runs = plan(counts, 3)
    parts = read_runs(lambda classes: tables.read(spark, location, classes), runs).rdd.glom().collect()

    assert len(parts) == len(runs) == 3
    ids = Counter(row.image_id for part in parts for row in part)
    assert len(ids) == 400 and set(ids.values()) == {1}
    for run, part in zip(runs, parts):
        assert {row.label for row in part} == {s.label for s in run}
        assert abs(len(part) - 400 / 3) < 400 / 3 * 0.2  # a shared class is split by hash
