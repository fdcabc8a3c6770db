"""Upload a local Fruits-360 tree to the S3 source prefix: parallel, resumable, with a dry run.

Every file under ``<root>/{Training,Test}`` is mirrored, hidden and odd files
included (ingest records those as rejections, so nothing disappears silently).
An object already in S3 with the same size and the same SHA-256 (kept in its
``sha256`` metadata) is skipped, so a killed upload resumes where it stopped:
each PutObject is atomic, and a half-sent file is never left behind.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .resources.object_store import split_s3_uri
from .resources.regions import require_eu_bucket
from .spark_jobs.tables import SPLITS

CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


@dataclass(frozen=True)
class LocalFile:
    path: Path
    key: str
    size: int


@dataclass
class UploadReport:
    files: int = 0
    sent: list[LocalFile] = field(default_factory=list)
    skipped: int = 0

    @property
    def bytes_sent(self) -> int:
        return sum(item.size for item in self.sent)


def local_files(root: Path, prefix: str) -> list[LocalFile]:
    """Every file of the splits, with its destination key, in a stable order."""
    splits = [root / split for split in SPLITS if (root / split).is_dir()]
    if not splits:
        raise FileNotFoundError(f"{root} has no {' or '.join(SPLITS)} folder: not a Fruits-360 tree.")
    found = []
    for split_dir in splits:
        for dirpath, dirnames, names in os.walk(split_dir):
            dirnames.sort()
            for name in sorted(names):
                path = Path(dirpath) / name
                relative = path.relative_to(root).as_posix()
                found.append(LocalFile(path, f"{prefix}/{relative}" if prefix else relative, path.stat().st_size))
    return found


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def remote_sizes(client, bucket: str, prefix: str) -> dict[str, int]:
    sizes = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        sizes.update({obj["Key"]: obj["Size"] for obj in page.get("Contents", [])})
    return sizes


def already_there(client, bucket: str, item: LocalFile, digest: str, sizes: dict[str, int]) -> bool:
    if sizes.get(item.key) != item.size:
        return False
    metadata = client.head_object(Bucket=bucket, Key=item.key).get("Metadata", {})
    return metadata.get("sha256") == digest


def put(client, bucket: str, item: LocalFile, data: bytes, digest: str, sse: str) -> None:
    client.put_object(
        Bucket=bucket,
        Key=item.key,
        Body=data,
        Metadata={"sha256": digest},
        ContentType=CONTENT_TYPES.get(item.path.suffix.lower(), "application/octet-stream"),
        ServerSideEncryption=sse,
    )


def upload(
    root: Path,
    destination: str,
    client,
    *,
    workers: int = 16,
    dry_run: bool = False,
    allow_non_eu: bool = False,
    sse: str = "AES256",
    progress: bool = True,
) -> UploadReport:
    """Send what is missing or different; with ``dry_run``, only report what would be sent."""
    bucket, prefix = split_s3_uri(destination)
    require_eu_bucket(client, bucket, allow_non_eu)
    items = local_files(Path(root), prefix)
    sizes = remote_sizes(client, bucket, prefix)
    report = UploadReport(files=len(items))

    def one(item: LocalFile) -> bool:
        data = item.path.read_bytes()
        digest = sha256(data)
        if already_there(client, bucket, item, digest, sizes):
            return False
        if not dry_run:
            put(client, bucket, item, data, digest, sse)
        return True

    with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(
        total=len(items), unit="file", disable=not progress, desc="dry run" if dry_run else "upload"
    ) as bar:
        for item, sent in zip(items, pool.map(one, items)):
            if sent:
                report.sent.append(item)
            else:
                report.skipped += 1
            bar.update()
    return report
