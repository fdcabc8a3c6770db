"""The command line: partitions are added and removed only on request, bad input is refused
before any work, and a run's failure reads as one short block."""

import os
import shutil

import pytest
from dagster import DagsterInstance, Definitions, Failure, asset, define_asset_job

from fruits_assets import cli
from fruits_assets.report import Runs, failure_block
from fruits_assets_tests.conftest import project_env

pytestmark = pytest.mark.fast


def test_sync_adds_and_removes_only_on_request():
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("fruit_class", ["a", "b", "c"])
    assert cli.sync_partitions(instance, ["b", "d"]) == (["d"], [])
    assert instance.get_dynamic_partitions("fruit_class") == ["a", "b", "c", "d"]
    assert cli.sync_partitions(instance, ["b", "d"], prune=True) == ([], ["a", "c"])
    assert instance.get_dynamic_partitions("fruit_class") == ["b", "d"]


def test_every_command_parses_with_its_options():
    run = cli.parser().parse_args(["run", "--classes", "Apple 6", "Cherry 1", "--k", "5", "-v"])
    assert (run.classes, run.k, run.verbose) == (["Apple 6", "Cherry 1"], 5, True)
    assert cli.parser().parse_args(["vacuum", "--retention-hours", "200"]).retention_hours == 200
    for command in (["partitions", "--prune"], ["migrate-lake"], ["sample"], ["emr-plan"], ["upload", "a", "s3://b/c"]):
        assert cli.parser().parse_args(command).command == command[0]
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["materialize"])


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """``run(*args, source, home)``: the command line in this process; (status, out, err)."""
    def run(*args, source, home):
        for name in [k for k in os.environ if k.startswith(("FRUITS_", "DAGSTER_"))]:
            monkeypatch.delenv(name)
        for name, value in project_env(FRUITS_SOURCE=str(source), FRUITS_HOME=str(home),
                                       DAGSTER_HOME=str(home / "dh")).items():
            monkeypatch.setenv(name, value)
        status = cli.main(list(args))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def _tree(root, classes):
    for cls in classes:
        (root / "Training" / cls).mkdir(parents=True)
        (root / "Training" / cls / "a.jpg").write_bytes(b"not read by these commands")
    return root


def test_another_source_keeps_the_partitions_until_pruned(tmp_path, run_cli):
    first = _tree(tmp_path / "first", ["Apple 6", "Cherry 1"])
    second = _tree(tmp_path / "second", ["Cherry 1"])
    assert "2 added, 0 removed" in run_cli("partitions", source=first, home=tmp_path)[1]
    _, kept, _ = run_cli("partitions", source=second, home=tmp_path)
    assert "0 added, 0 removed" in kept and "--prune" in kept
    assert "0 added, 1 removed" in run_cli("partitions", "--prune", source=second, home=tmp_path)[1]


def test_run_refuses_classes_the_source_lacks_and_names_that_cannot_be_classes(tmp_path, run_cli):
    source = _tree(tmp_path / "source", ["Apple 6", "Fig [dried]", "Pear: ripe"])
    status, _, refused = run_cli("run", source=source, home=tmp_path)
    assert status == 2 and "Traceback" not in refused
    assert "2 class folder name(s) cannot be fruit classes" in refused
    assert "'Fig [dried]'" in refused and "'Pear: ripe'" in refused
    shutil.rmtree(source / "Training" / "Fig [dried]")
    shutil.rmtree(source / "Training" / "Pear: ripe")
    status, _, unknown = run_cli("run", "--classes", "Apple 6", "Kiwi From Mars", source=source, home=tmp_path)
    assert status == 2
    assert "the source does not have: Kiwi From Mars" in unknown and "Traceback" not in unknown


def _failing_run(error: Exception):
    @asset
    def fine() -> None:
        return None

    @asset(deps=[fine])
    def broken() -> None:
        raise error

    job = define_asset_job("job", selection=[fine, broken])
    defs = Definitions(assets=[fine, broken], jobs=[job])
    return defs.resolve_job_def("job").execute_in_process(raise_on_error=False)


@pytest.mark.parametrize("error,message", [
    (Failure("Spark job featurize failed: ValueError: an image of 0 bytes", allow_retries=False),
     "Spark job featurize failed: ValueError: an image of 0 bytes"),
    (RuntimeError("the lake is read-only\nwith a second line"), "the lake is read-only"),
])
def test_a_failed_run_reads_as_one_short_block(error, message, capsys):
    result = _failing_run(error)
    runs = Runs()
    runs.add(result)
    block = failure_block(result, runs, verbose=False)
    lines = block.splitlines()
    assert lines[0] == "fruits_assets: FAILED at broken"
    assert lines[1] == f"  {message}"
    assert lines[2].startswith("  kept: fine")
    assert result.run_id in lines[3] and "-v" in lines[3]
    assert len(lines) == 4 and "Traceback" not in block
    assert "  fine " in capsys.readouterr().out, "what succeeded has its line"
