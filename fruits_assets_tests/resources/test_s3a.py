"""Spark's S3A connector: jars checked by SHA-256, endpoint settings, and server-side
encryption that is really applied (the check fails with the wrong key or value)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from fruits_assets.resources import s3a
from fruits_assets_tests.conftest import REPO, make_bucket


def test_jars_are_pinned_checked_and_cached(tmp_path):
    jars = s3a.fetch_jars()
    assert [p.name for p in jars] == [j.name for j in s3a.SDIST_JARS]
    assert all(p.parent == s3a.cache_dir() for p in jars)
    assert s3a.jars_conf("pypi") == {"spark.jars": ",".join(map(str, jars))}
    assert s3a.jars_conf("maven") == {"spark.jars.packages": f"org.apache.hadoop:hadoop-aws:{s3a.hadoop_client_version()}"}
    tampered = tmp_path / "tampered.jar"
    tampered.write_bytes(b"not the jar")
    with pytest.raises(s3a.S3AJarsError, match="refusing it"):
        s3a._verified(tampered, s3a.SDIST_JARS[0])
    with pytest.raises(ValueError, match="auto, maven or pypi"):
        s3a.jars_conf("ivy")


def test_endpoint_settings_follow_the_standard_variables():
    assert "fs.s3a.endpoint" not in s3a.connection_conf({})
    conf = s3a.connection_conf({"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-3"})
    assert conf["fs.s3a.endpoint"] == "http://127.0.0.1:9000" and conf["fs.s3a.path.style.access"] == "true"
    assert conf["fs.s3a.connection.ssl.enabled"] == "false" and conf["fs.s3a.endpoint.region"] == "eu-west-3"
    specific = s3a.connection_conf({"AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_S3": "https://minio.local"})
    assert specific["fs.s3a.endpoint"] == "https://minio.local" and specific["fs.s3a.connection.ssl.enabled"] == "true"


WRITE_WITH = textwrap.dedent(
    """
    import json, sys
    from fruits_assets.resources import s3a
    from fruits_assets.spark_jobs.session import build_session
    variants = json.loads(sys.argv[1])
    conf = {**s3a.jars_conf("pypi"), **{f"spark.hadoop.{k}": v for k, v in s3a.connection_conf().items()}}
    spark = build_session("local[1]", conf)
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    outcome = {}
    for bucket, settings in variants.items():  # one bucket each: S3A makes one client per bucket
        for key in s3a.SSE_CONF:
            hadoop.unset(key)
        for key, value in settings.items():
            hadoop.set(key, value)
        try:
            spark.range(3).write.parquet(f"s3a://{bucket}/t")
            outcome[bucket] = "written"
        except Exception as exc:
            outcome[bucket] = "failed: " + str(exc)[:300]
    print("RESULT " + json.dumps(outcome))
    """
)


def unencrypted(s3, bucket: str) -> list[str]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return [k for k in keys if "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key=k)]


@pytest.mark.aws
def test_spark_objects_are_encrypted_only_with_the_right_key_and_value(s3):
    variants = {
        "sse-project": dict(s3a.SSE_CONF),
        "sse-hadoop34-key-only": {"fs.s3a.encryption.algorithm": "AES256"},  # Hadoop 3.3 does not read it
        "sse-wrong-value": {"fs.s3a.server-side-encryption-algorithm": "SSE-S3"},
    }
    for bucket in variants:
        make_bucket(s3, bucket, "eu-west-3")
    s3a.fetch_jars()
    run = subprocess.run([sys.executable, "-c", WRITE_WITH, json.dumps(variants)], cwd=REPO, env=os.environ.copy(),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.split("RESULT ", 1)[1])
    assert outcome["sse-project"] == "written" and unencrypted(s3, "sse-project") == []
    assert outcome["sse-hadoop34-key-only"] == "written"
    assert unencrypted(s3, "sse-hadoop34-key-only"), "the check must see objects written without SSE"
    assert outcome["sse-wrong-value"].startswith("failed") and "Unknown encryption algorithm" in outcome["sse-wrong-value"]
    for key in unencrypted(s3, "sse-hadoop34-key-only"):  # the s3 fixture refuses unencrypted leftovers
        s3.delete_object(Bucket="sse-hadoop34-key-only", Key=key)
