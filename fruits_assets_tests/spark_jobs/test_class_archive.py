"""The archive of Spark's classes: written whole, mapped by local sessions, and harmless
when it cannot be used."""

import json
import os
import subprocess
import sys

import pytest

from fruits_assets.spark_jobs import class_archive

PROBE = """
import json, sys
from pathlib import Path
from fruits_assets.spark_jobs.session import build_session
spark = build_session("local[1]", json.loads(sys.argv[2]), class_archive=Path(sys.argv[1]))
bean = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
print(json.dumps({"args": list(bean.getInputArguments()), "count": spark.range(10).count()}))
"""


def _session(archive, conf: dict | None = None, env: dict | None = None) -> tuple[dict, str]:
    """(JVM arguments and a job's result, everything else it printed) of a local session
    in a child process (the JVM logs to the stdout it shares)."""
    done = subprocess.run([sys.executable, "-c", PROBE, str(archive), json.dumps(conf or {})],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    *printed, result = done.stdout.strip().splitlines()
    return json.loads(result), "\n".join(printed) + done.stderr


def test_options_name_the_archive_only_when_it_exists(tmp_path):
    assert class_archive.java_options(tmp_path / "absent.jsa") == ""
    (tmp_path / "there.jsa").write_bytes(b"x")
    assert f"-XX:SharedArchiveFile={tmp_path / 'there.jsa'}" in class_archive.java_options(tmp_path / "there.jsa")


@pytest.mark.parametrize("options", ["-javaagent:/opt/apm/agent.jar", "-Xmx2g -agentpath:/opt/profiler.so=start",
                                     "-agentlib:jdwp=transport=dt_socket,server=y", "-XX:StartFlightRecording=filename=x.jfr"])
def test_no_archive_for_a_jvm_that_starts_an_agent(tmp_path, monkeypatch, options):
    (tmp_path / "there.jsa").write_bytes(b"x")
    assert class_archive.java_options(tmp_path / "there.jsa", options) == ""
    assert class_archive.java_options(tmp_path / "there.jsa", "-Xmx2g -Dname=-javaagent") != ""
    for variable in class_archive.JVM_OPTION_VARIABLES:
        with monkeypatch.context() as env:
            env.setenv(variable, options)
            assert class_archive.java_options(tmp_path / "there.jsa") == "", variable


@pytest.mark.slow
def test_a_written_archive_is_mapped_by_local_sessions(tmp_path):
    archive = class_archive.write(tmp_path / "classes.jsa")
    assert archive.stat().st_size > 10_000_000 and [p.name for p in tmp_path.iterdir()] == ["classes.jsa"]
    # -Xshare:on: the JVM refuses to start when it cannot map the archive it is given
    result, _ = _session(archive, {"spark.driver.extraJavaOptions": "-Xshare:on"})
    assert f"-XX:SharedArchiveFile={archive}" in result["args"] and result["count"] == 10
    # other jars ahead of Spark's: the archive no longer matches, and is ignored without a word
    (tmp_path / "jars").mkdir()
    result, printed = _session(archive, {"spark.driver.extraClassPath": str(tmp_path / "jars")})
    assert result["count"] == 10 and "cds" not in printed.lower() and "shared" not in printed.lower(), printed
    # a flight recording from the start, asked for by the caller or the environment: this
    # JDK crashed at start with the archive mapped
    recording = f"-XX:StartFlightRecording=filename={tmp_path / 'run.jfr'}"
    for conf, env in (({"spark.driver.extraJavaOptions": recording}, {}), ({"spark.driver.defaultJavaOptions": recording}, {}),
                      ({}, {"JAVA_TOOL_OPTIONS": recording}), ({}, {"SPARK_SUBMIT_OPTS": recording})):
        result, _ = _session(archive, conf, env)
        assert result["count"] == 10 and not any("SharedArchiveFile" in a for a in result["args"])


def test_an_unusable_archive_is_ignored_silently(tmp_path):
    archive = tmp_path / "classes.jsa"
    archive.write_bytes(b"not a class archive" * 1000)
    result, printed = _session(archive)
    assert f"-XX:SharedArchiveFile={archive}" in result["args"] and result["count"] == 10
    assert "cds" not in printed.lower() and "shared" not in printed.lower(), printed
