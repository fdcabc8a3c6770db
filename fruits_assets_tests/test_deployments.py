"""FRUITS_DEPLOYMENT picks the resources; aws without credentials or settings says what is missing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import EnvVar, build_resources

from fruits_assets import cli
from fruits_assets.deployments import aws_resources, check_aws_settings, local_resources
from fruits_assets.resources import EmrSpark
from fruits_assets.resources.emr_release import DEFAULT_RELEASE
from fruits_assets.resources.spark import reads_s3a
from fruits_assets.settings import DeploymentError
from fruits_assets.spark_jobs.contracts import IngestParams, VacuumParams
from fruits_assets_tests.conftest import REPO, project_env

pytestmark = pytest.mark.fast

AWS_SETTINGS = {
    "FRUITS_LAKE": "s3://fruits-lake-eu/lake", "FRUITS_SOURCE": "s3://fruits-lake-eu/source",
    "FRUITS_EMR_WHEEL": "s3://fruits-lake-eu/code/fruits_assets-0.1.0-py3-none-any.whl",
}


def _no_aws_env(tmp_path, **extra) -> dict:
    return project_env(
        "AWS_", FRUITS_DEPLOYMENT="aws", DAGSTER_HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), **extra,
    )


def _use(monkeypatch, env: dict) -> None:
    for name in [k for k in os.environ if k.startswith(("FRUITS_", "DAGSTER_", "AWS_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("command", [["run"], ["partitions"], ["vacuum"]])
def test_aws_without_credentials_fails_with_what_is_missing(tmp_path, command, monkeypatch, capsys):
    _use(monkeypatch, _no_aws_env(tmp_path, **AWS_SETTINGS))
    assert cli.main(command) == 2
    error = capsys.readouterr().err
    assert "FRUITS_DEPLOYMENT=aws needs:" in error and "AWS credentials" in error
    assert "FRUITS_LAKE" not in error  # set, so not listed
    assert "Traceback" not in error


def test_every_missing_setting_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(DeploymentError) as error:
        check_aws_settings({"FRUITS_LAKE": "/not/s3"})
    message = str(error.value)
    for missing in ("FRUITS_LAKE (an s3://", "FRUITS_SOURCE", "FRUITS_EMR_WHEEL", "AWS credentials"):
        assert missing in message


def test_aws_resources_are_emr_with_s3_lake_and_settings_from_env_vars(monkeypatch):
    for name, value in {**AWS_SETTINGS, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
                        "AWS_DEFAULT_REGION": "eu-west-1", "FRUITS_EMR_CORE_INSTANCE_COUNT": "5"}.items():
        monkeypatch.setenv(name, value)
    resources = aws_resources()
    spark = resources["spark"]
    assert spark.wheel == EnvVar("FRUITS_EMR_WHEEL") and resources["lake"].root == EnvVar("FRUITS_LAKE"), \
        "the UI shows which variable a setting comes from"
    with build_resources({"spark": spark, "lake": resources["lake"]}) as built:
        assert isinstance(built.spark, EmrSpark) and built.spark.region == "eu-west-1"
        assert built.spark.staging_uri == AWS_SETTINGS["FRUITS_LAKE"] and built.spark.core_instance_count == 5
        assert built.lake.spark_root == "s3://fruits-lake-eu/lake"


def test_aws_definitions_validate_and_emr_plan(tmp_path, monkeypatch, capsys):
    env = _no_aws_env(tmp_path, **AWS_SETTINGS, AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s",
                      AWS_DEFAULT_REGION="eu-west-3")
    dagster = Path(sys.executable).parent / "dagster"
    validate = subprocess.run([str(dagster), "definitions", "validate", "-m", "fruits_assets.definitions"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    _use(monkeypatch, env)
    assert cli.main(["emr-plan"]) == 0
    plan = capsys.readouterr().out
    assert f'"ReleaseLabel": "{DEFAULT_RELEASE}"' in plan and "/hour on demand" in plan
    assert "S3 connector S3A" in plan and "fs.s3a.encryption.algorithm" in plan
    assert '"delta.enabled": "true"' in plan and "--jars" not in plan
    assert "EC2 $" in plan and "EMR $" in plan and "estimate" in plan
    assert "pip install --quiet --no-deps" in plan and "ai-edge-litert" in plan
    installs = [line for line in plan.splitlines() if "pip install" in line]
    assert installs and not any("tensorflow" in line or "pyspark" in line or "dagster" in line for line in installs)


def test_local_settings_left_unset_keep_the_defaults(monkeypatch, tmp_path):
    for name in ("FRUITS_LAKE", "FRUITS_SOURCE", "FRUITS_SPARK_MASTER", "FRUITS_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRUITS_HOME", str(tmp_path))
    resources = local_resources()
    assert resources["spark"].master == "local[*]" and resources["model"].weights == "auto"
    assert resources["lake"].root == str(tmp_path / ".lake") and resources["source"].root == ""
    monkeypatch.setenv("FRUITS_SPARK_MASTER", "local[2]")
    assert local_resources()["spark"].master == EnvVar("FRUITS_SPARK_MASTER")


def test_local_deployment_reads_an_s3_lake_or_source_through_s3a(monkeypatch, tmp_path):
    monkeypatch.setenv("FRUITS_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("FRUITS_SOURCE", "s3://fruits-source/fruits-360")
    resources = local_resources()
    with build_resources({"source": resources["source"], "lake": resources["lake"]}) as built:
        assert built.source.spark_root == "s3a://fruits-source/fruits-360"
        assert built.lake.spark_root == f"file://{tmp_path / 'lake'}"
        ingest = IngestParams(source_root=built.source.spark_root, raw_images=built.lake.spark_uri("tables/raw_images"),
                              rejected_images=built.lake.spark_uri("tables/rejected_images"), classes=["Kiwi"])
    assert reads_s3a(ingest), "the session gets the S3A jars for this job"
    assert not reads_s3a(VacuumParams(tables={"raw_images": f"file://{tmp_path / 'lake'}/tables/raw_images"}))


def test_importing_the_aws_definitions_reads_no_credentials(tmp_path):
    """Credentials are resolved when a step needs AWS, never when definitions load."""
    probe = (
        "import botocore.session\n"
        "def refuse(self, *a, **k): raise SystemExit('credentials were read at import')\n"
        "botocore.session.Session.get_credentials = refuse\n"
        "from fruits_assets.definitions import defs\n"
        "print(sorted(defs().resources))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=_no_aws_env(tmp_path, **AWS_SETTINGS),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "io_manager" in result.stdout
