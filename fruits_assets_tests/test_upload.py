"""Uploading a Fruits-360 tree to S3: complete, resumable after a kill, dry run, EU only."""

import os
import signal
import subprocess
import sys
import time

import pytest

from fruits_assets.resources.regions import RegionError
from fruits_assets.upload import sha256, upload
from fruits_assets_tests.conftest import REPO, make_bucket

pytestmark = pytest.mark.aws

DEST = "s3://fruits-source/fruits-360"


def _keys(s3) -> dict[str, int]:
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="fruits-source"):
        found.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    return found


def _files(root):
    return sorted(p for split in ("Training", "Test") for p in (root / split).rglob("*") if p.is_file())


def test_upload_killed_midway_resumes_with_only_the_rest(s3, real_sample):
    make_bucket(s3, "fruits-source", "eu-west-3")
    total = len(_files(real_sample))
    command = [sys.executable, "-m", "fruits_assets.cli", "upload", str(real_sample), DEST, "--workers", "1"]
    process = subprocess.Popen(command, cwd=REPO, env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(_keys(s3)) < 100 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = _keys(s3)
    assert 0 < len(before) < total, "the upload should have been killed midway"

    report = upload(real_sample, DEST, s3, progress=False)
    assert report.files == total
    assert report.skipped == len(before)
    assert {item.key for item in report.sent}.isdisjoint(before)
    after = _keys(s3)
    assert len(after) == total
    for path in _files(real_sample)[::97]:
        key = f"fruits-360/{path.relative_to(real_sample).as_posix()}"
        head = s3.head_object(Bucket="fruits-source", Key=key)
        assert head["Metadata"]["sha256"] == sha256(path.read_bytes()) and after[key] == path.stat().st_size

    again = upload(real_sample, DEST, s3, progress=False)
    assert (len(again.sent), again.skipped) == (0, total)


def test_changed_file_of_same_size_is_sent_again_and_dry_run_sends_nothing(s3, real_sample, tmp_path, capsys):
    import shutil

    from fruits_assets.cli import main

    make_bucket(s3, "fruits-source", "eu-west-3")
    tree = tmp_path / "tree"
    shutil.copytree(real_sample / "Test" / "Cherry 1", tree / "Test" / "Cherry 1")
    upload(tree, DEST, s3, progress=False)
    victim = sorted((tree / "Test" / "Cherry 1").iterdir())[0]
    data = bytearray(victim.read_bytes())
    data[-3] ^= 0xFF
    victim.write_bytes(bytes(data))
    (tree / "Test" / "Cherry 1" / "new.jpg").write_bytes(b"new image")

    assert main(["upload", str(tree), DEST, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert victim.name in out and "new.jpg" in out and "would send 2" in out
    assert "fruits-360/Test/Cherry 1/new.jpg" not in _keys(s3)

    report = upload(tree, DEST, s3, progress=False)
    assert sorted(i.path.name for i in report.sent) == sorted([victim.name, "new.jpg"])


def test_upload_to_a_bucket_outside_the_eu_fails_before_sending(s3, real_sample, capsys):
    from fruits_assets.cli import main

    make_bucket(s3, "fruits-us", "us-east-1")
    with pytest.raises(RegionError):
        upload(real_sample, "s3://fruits-us/src", s3, progress=False)
    assert main(["upload", str(real_sample), "s3://fruits-us/src"]) == 2
    assert "outside the EU" in capsys.readouterr().err
    assert s3.list_objects_v2(Bucket="fruits-us").get("KeyCount", 0) == 0
