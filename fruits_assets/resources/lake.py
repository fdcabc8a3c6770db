"""The lake: where every asset is stored, a local folder or an s3:// prefix."""


import json
from typing import Optional

from dagster import ConfigurableResource
from dagster_aws.s3 import S3Resource

from ..spark_jobs.layout import TABLES
from ..spark_jobs.uris import is_remote, to_spark_uri
from ..spark_jobs.versioned import COMMITTED, new_version
from .object_store import LocalStore, S3Store, s3_client


class LakeResource(ConfigurableResource):
    """Lake root plus how Spark and boto3 reach it."""

    root: str
    spark_s3_scheme: str = "s3"  # "s3" = EMRFS on EMR; "s3a" = hadoop-aws on a laptop
    s3: Optional[S3Resource] = None  # how boto3 reaches S3 (default: the standard AWS chain)
    sse: str = "AES256"
    allow_non_eu_region: bool = False

    @property
    def spark_root(self) -> str:
        return to_spark_uri(self.root, self.spark_s3_scheme)

    @property
    def is_s3(self) -> bool:
        return is_remote(self.root)

    def store(self) -> LocalStore | S3Store:
        if self.is_s3:
            return S3Store(self.root, s3_client(self.s3), self.sse, self.allow_non_eu_region)
        return LocalStore(self.root)

    def read_uri(self, uri: str) -> bytes:
        """Bytes of an object a Spark job wrote, given the URI it reported."""
        return self.store().read_bytes(self.key_of(uri))

    def key_of(self, uri: str) -> str:
        """The key (relative to the root) of a URI a Spark job reported."""
        root = self.spark_root.rstrip("/")
        if not uri.startswith(root + "/"):
            raise ValueError(f"{uri} is not inside the lake {root}.")
        return uri[len(root) + 1 :]

    def current_version(self, table: str, partition: str | None = None) -> str | None:
        """Key (relative to the root) of the newest committed version, or None."""
        base = TABLES[table] + (f"/{partition}" if partition else "")
        store = self.store()
        for version in reversed([v for v in store.list_dirs(base) if v.startswith("v=")]):
            if store.exists(f"{base}/{version}/{COMMITTED}"):
                return f"{base}/{version}"
        return None

    def commit_objects(self, table: str, files: dict[str, bytes], manifest: dict) -> str:
        """Write ``files`` as a new version of ``table``, then its ``_COMMITTED`` manifest,
        then remove older versions (the versioned-lake protocol, for small driver-side
        outputs). Returns the new version's key."""
        store, base = self.store(), TABLES[table]
        version = f"{base}/{new_version()}"
        for name, data in files.items():
            store.write_bytes(f"{version}/{name}", data)
        store.write_bytes(f"{version}/{COMMITTED}", json.dumps(manifest, sort_keys=True, default=str).encode())
        for older in store.list_dirs(base):
            if older.startswith("v=") and f"{base}/{older}" < version:
                store.delete_tree(f"{base}/{older}")
        return version

    def current_manifest(self, table: str, partition: str | None = None) -> tuple[str, dict] | None:
        """(key, manifest) of the current committed version, or None."""
        current = self.current_version(table, partition)
        return None if current is None else (current, json.loads(self.store().read_bytes(f"{current}/{COMMITTED}")))

    def manifest(self, table: str, partition: str | None = None) -> dict | None:
        """The manifest of the current committed version (what its job measured), or None."""
        found = self.current_manifest(table, partition)
        return None if found is None else found[1]

    def manifests(self, table: str, partitions: list[str]) -> dict[str, dict | None]:
        return {p: self.manifest(table, p) for p in partitions}
