"""The image source: a Fruits-360-style tree on disk or under an s3:// prefix."""


import os
from pathlib import Path
from typing import Optional

from dagster import ConfigurableResource
from dagster_aws.s3 import S3Resource

from .. import sample, settings
from ..spark_jobs.ingest import SPLITS
from ..spark_jobs.layout import InvalidPartitionKey, check_partition_key
from ..spark_jobs.uris import is_remote, to_spark_uri
from .object_store import s3_client, split_s3_uri
from .regions import require_eu_bucket


class SourceError(ValueError):
    """The source is missing or has no class folders."""


class FruitSource(ConfigurableResource):
    """``root`` = "" means the embedded synthetic sample (generated on first use)."""

    root: str = ""
    spark_s3_scheme: str = "s3"
    s3: Optional[S3Resource] = None  # how boto3 reaches S3 (default: the standard AWS chain)
    allow_non_eu_region: bool = False

    def resolved_root(self) -> str:
        if self.root:
            return self.root
        return str(sample.generate(settings.sample_dir()))

    @property
    def spark_root(self) -> str:
        return to_spark_uri(self.resolved_root(), self.spark_s3_scheme)

    def class_signatures(self) -> dict[str, str]:
        """{class: "<files>:<bytes>:<newest mtime>"}; a change means new or removed images."""
        root = self.resolved_root()
        files = self._s3_files(root) if is_remote(root) else self._local_files(root)
        signatures: dict[str, list[int]] = {}
        for split, cls, size, mtime in files:
            entry = signatures.setdefault(cls, [0, 0, 0])
            if size is None:  # the class folder itself
                continue
            entry[0], entry[1], entry[2] = entry[0] + 1, entry[1] + size, max(entry[2], mtime)
        return {cls: ":".join(map(str, v)) for cls, v in sorted(signatures.items())}

    def file_counts(self) -> dict[str, int]:
        """{class: files under its folders, in both splits}."""
        return {cls: int(signature.split(":")[0]) for cls, signature in self.class_signatures().items()}

    def classes(self) -> list[str]:
        """Valid class folder names; raise a SourceError if there are none."""
        found = sorted(self.class_signatures())
        valid = []
        for name in found:
            try:
                valid.append(check_partition_key(name))
            except InvalidPartitionKey:
                continue
        if not valid:
            raise SourceError(
                f"No class folders under {self.resolved_root()}: expected "
                f"<source>/{{{','.join(SPLITS)}}}/<class>/<image files>."
            )
        return valid

    def require(self, classes: list[str]) -> None:
        """Fail, before any Spark work, if the source lacks any of ``classes``
        (looks only at those classes' folders, not at the whole source)."""
        root = self.resolved_root()
        has_class = self._class_probe(root)
        missing = sorted(c for c in set(classes) if not has_class(c))
        if missing:
            raise SourceError(
                f"The source {root} has no folder for class(es) {', '.join(missing)}. "
                "Check FRUITS_SOURCE, or run `make partitions` to resync the fruit_class partitions."
            )

    def _class_probe(self, root: str):
        """A function telling whether the source has a folder for a class (the source is
        opened, and its region checked, once)."""
        if not is_remote(root):
            base = self._local_base(root)
            return lambda cls: any((base / split / cls).is_dir() for split in SPLITS)
        client, bucket, prefix = self._s3(root)

        def has_class(cls: str) -> bool:
            return any(
                client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{split}/{cls}/".lstrip("/"), MaxKeys=1)
                .get("KeyCount")
                for split in SPLITS
            )

        return has_class

    @staticmethod
    def _local_base(root: str) -> Path:
        base = Path(root.removeprefix("file://"))
        if not base.is_dir():
            raise SourceError(f"The source {base} does not exist or is not a folder. Set FRUITS_SOURCE.")
        return base

    def _s3(self, root: str):
        """(client, bucket, prefix) of an s3:// source, after the GDPR region guard."""
        bucket, prefix = split_s3_uri(root)
        client = s3_client(self.s3)
        require_eu_bucket(client, bucket, self.allow_non_eu_region)
        return client, bucket, prefix

    def _local_files(self, root: str):
        base = self._local_base(root)
        for split in SPLITS:
            split_dir = base / split
            if not split_dir.is_dir():
                continue
            for class_dir in split_dir.iterdir():
                if not class_dir.is_dir():
                    continue
                yield split, class_dir.name, None, None
                for dirpath, _, names in os.walk(class_dir):
                    for name in names:
                        stat = os.stat(os.path.join(dirpath, name))
                        yield split, class_dir.name, stat.st_size, int(stat.st_mtime)

    def _s3_files(self, root: str):
        client, bucket, prefix = self._s3(root)
        for split in SPLITS:
            start = f"{prefix}/{split}/".lstrip("/")
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=start):
                for obj in page.get("Contents", []):
                    parts = obj["Key"][len(start) :].split("/")
                    if len(parts) >= 2:
                        yield split, parts[0], obj["Size"], int(obj["LastModified"].timestamp())
