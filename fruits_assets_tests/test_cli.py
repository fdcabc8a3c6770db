"""The command line's partition bookkeeping: classes are added, never silently removed."""

import shutil
import subprocess
import sys

from dagster import DagsterInstance

from fruits_assets.cli import sync_partitions
from fruits_assets_tests.conftest import REPO, project_env


def test_sync_adds_and_removes_only_on_request():
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", ["a", "b", "c"])
    assert sync_partitions(instance, ["b", "d"]) == (["d"], [])
    assert instance.get_dynamic_partitions("fruit_class") == ["a", "b", "c", "d"]
    assert sync_partitions(instance, ["b", "d"], prune=True) == ([], ["a", "c"])
    assert instance.get_dynamic_partitions("fruit_class") == ["b", "d"]


def _cli(*args, source, home):
    env = project_env(FRUITS_SOURCE=str(source), FRUITS_HOME=str(home), DAGSTER_HOME=str(home / "dh"))
    return subprocess.run([sys.executable, "-m", "fruits_assets.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_another_source_keeps_the_partitions_until_pruned(tmp_path, real_sample):
    first, second = tmp_path / "first", tmp_path / "second"
    for tree, classes in ((first, ["Apple 6", "Cherry 1"]), (second, ["Cherry 1"])):
        for cls in classes:
            shutil.copytree(real_sample / "Training" / cls, tree / "Training" / cls)
    assert "2 added, 0 removed" in _cli("partitions", source=first, home=tmp_path).stdout
    kept = _cli("partitions", source=second, home=tmp_path)
    assert "0 added, 0 removed" in kept.stdout and "--prune" in kept.stdout
    assert "0 added, 1 removed" in _cli("partitions", "--prune", source=second, home=tmp_path).stdout


def test_run_refuses_classes_the_source_lacks(tmp_path, real_sample):
    result = _cli("run", "--classes", "Apple 6", "Kiwi From Mars", source=real_sample, home=tmp_path)
    assert result.returncode == 2
    assert "the source does not have: Kiwi From Mars" in result.stderr and "Traceback" not in result.stderr
