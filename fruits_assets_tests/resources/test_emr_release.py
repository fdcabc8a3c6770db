"""The EMR request follows the release: S3 connector, encryption settings, Python, bootstrap."""

import re
import subprocess

import pytest

from fruits_assets.resources import EmrSpark
from fruits_assets.resources.emr_release import (
    DEFAULT_RELEASE,
    STEP_PACKAGES,
    EmrRelease,
    UnsupportedRelease,
    step_requirements,
)
from fruits_assets.spark_jobs.contracts import VacuumParams

pytestmark = pytest.mark.fast


def _runtime(**config) -> EmrSpark:
    return EmrSpark(staging_uri="s3://b/staging", wheel="s3://b/fruits_assets-0.1.0-py3-none-any.whl", **config)


def _classifications(request: dict) -> dict[str, dict]:
    return {c["Classification"]: c["Properties"] for c in request["Configurations"]}


def test_default_release_is_7_10_or_later():
    assert EmrRelease(DEFAULT_RELEASE).version >= (7, 10, 0)
    assert _runtime().job_flow_request("r", _runtime().staged_uris())["ReleaseLabel"] == DEFAULT_RELEASE


DELTA = {
    "delta-defaults": {"delta.enabled": "true"},
    "spark-defaults": {"spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
                       "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog"},
}


@pytest.mark.parametrize("label", [DEFAULT_RELEASE, "emr-7.10.0"])
def test_s3a_releases_carry_s3a_sse_in_core_site_and_the_clusters_own_delta(label):
    runtime = _runtime(release_label=label)
    configurations = _classifications(runtime.job_flow_request("r", runtime.staged_uris()))
    assert configurations["core-site"]["fs.s3a.encryption.algorithm"] == "AES256"
    assert "emrfs-site" not in configurations
    assert {k: configurations[k] for k in DELTA} == DELTA
    assert EmrRelease(label).s3_connector == "S3A"


def test_pre_7_10_releases_carry_the_emrfs_setting():
    runtime = _runtime(release_label="emr-7.5.0")
    configurations = _classifications(runtime.job_flow_request("r", runtime.staged_uris()))
    assert configurations == {**DELTA, "emrfs-site": {"fs.s3.enableServerSideEncryption": "true"}}
    assert EmrRelease("emr-7.5.0").hadoop_properties() == {}


def test_steps_ship_no_jars():
    runtime = _runtime()
    args = runtime.step_request(VacuumParams(tables={"t": "s3://b/lake/tables/t"}), "s3://b/entry.py")
    joined = " ".join(args["HadoopJarStep"]["Args"])
    assert "--jars" not in joined and "spark.jars" not in joined and "--packages" not in joined


@pytest.mark.parametrize("label", ["emr-6.15.0", "emr-7.0.0", "emr-8.0.0", "7.10", "emr-7.10"])
def test_unsupported_releases_are_refused(label):
    with pytest.raises(UnsupportedRelease):
        _runtime(release_label=label).job_flow_request("r", {"bootstrap": "b", "wheel": "w"})


def test_step_python_is_the_bootstrap_python():
    runtime = _runtime()
    script = runtime.bootstrap()
    bootstrap_python = re.search(r"^PYTHON=(\S+)$", script, re.MULTILINE).group(1)
    args = runtime.step_request(VacuumParams(tables={}), "s3://b/entry.py")["HadoopJarStep"]["Args"]
    confs = dict(a.split("=", 1) for a in args if a.startswith("spark.pyspark."))
    assert confs["spark.pyspark.python"] == confs["spark.pyspark.driver.python"] == bootstrap_python
    assert bootstrap_python == "/usr/bin/python3.11"


def test_bootstrap_installs_only_what_the_cluster_lacks():
    script = _runtime().bootstrap()
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    installs = [line for line in script.splitlines() if "pip install" in line]
    assert len(installs) == 2 and "--no-deps" in installs[0]
    packages = re.findall(r"'?([a-z][a-z0-9-]*)[<>=]", installs[1])
    assert packages == list(STEP_PACKAGES)
    assert all(requirement in installs[1] for requirement in step_requirements())
    for absent in ("pyspark", "tensorflow", "keras", "dagster-webserver", "dagster-aws", "dagster=="):
        assert absent not in installs[1]
    assert 'if [ ! -x "$PYTHON" ]' in script, "Python is installed only where missing"
    assert "pip list --format=freeze" in script, "what was installed goes to the bootstrap log"


def test_requirements_carry_the_declared_versions():
    requirements = dict(re.match(r"([a-z0-9-]+)(.*)", r).groups() for r in step_requirements())
    assert requirements["ai-edge-litert"].startswith("==")
    assert set(requirements) == set(STEP_PACKAGES)


def test_parameters_too_long_for_a_step_argument_travel_as_an_object():
    runtime = _runtime()
    few = VacuumParams(tables={"t": "s3://b/lake/tables/t"})
    assert runtime.params_argument(few) == few.to_json()
    many = VacuumParams(tables={f"table {i:04d} with a long name": f"s3://b/lake/tables/{i}" for i in range(400)})
    argument = runtime.params_argument(many)
    assert argument.startswith("@s3://b/staging/params/") and argument.endswith(".json") and len(argument) < 200
