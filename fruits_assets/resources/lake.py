"""The lake: a local folder or an s3:// prefix holding Delta tables and a few files.

```
<lake>/tables/<asset>/                    Delta tables, partitioned by fruit class (label)
<lake>/models/mobilenet_v2/<key>.bin      the converted network, cached
<lake>/<asset folder>/<data version>/...  files of the unpartitioned assets
```

Spark reaches it through Hadoop (``spark_root``); this process reads tables with delta-rs
(``deltalake``, no JVM) and small files with boto3 or the os module (``store``).
"""

from typing import Optional

import boto3
import pyarrow as pa
from dagster import AssetKey, ConfigurableResource
from dagster_aws.s3 import S3Resource
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from ..spark_jobs.tables import PARTITION
from ..spark_jobs.uris import is_remote, join, to_spark_uri
from .object_store import LocalStore, S3Store, s3_client
from .s3a import endpoint_url

TABLES = "tables"
OLD_LAYOUT = ("data/raw/images", "data/features")  # where the versioned-folder layout kept its tables


class LakeLayoutError(RuntimeError):
    """The lake holds data in a layout this version does not read; the message says what to do."""


class LakeResource(ConfigurableResource):
    """Lake root plus how Spark, delta-rs and boto3 reach it."""

    root: str
    spark_s3_scheme: str = "s3"  # "s3" on EMR (its connector); "s3a" for local Spark (hadoop-aws)
    s3: Optional[S3Resource] = None  # how boto3 reaches S3 (default: the standard AWS chain)
    sse: str = "AES256"
    allow_non_eu_region: bool = False

    @property
    def is_s3(self) -> bool:
        return is_remote(self.root)

    @property
    def spark_root(self) -> str:
        return to_spark_uri(self.root, self.spark_s3_scheme)

    def spark_uri(self, key: str, local: bool = False) -> str:
        """What a Spark job reads or writes for ``key`` (relative to the root); ``local``:
        from a local session (S3 through S3A, whatever the jobs' runtime uses)."""
        return join(to_spark_uri(self.root, "s3a") if local else self.spark_root, key)

    def table_key(self, asset: AssetKey) -> str:
        """Where the asset's Delta table is, under the root: ``tables/<asset name>``."""
        return f"{TABLES}/{asset.path[-1]}"

    def check_ready(self) -> None:
        """Before any work: the lake is writable (and, on S3, in the EU), and not in the
        versioned-folder layout of earlier versions without its Delta tables."""
        store = self.store()
        store.check_writable()
        if not store.exists(TABLES) and any(store.list_dirs(folder) for folder in OLD_LAYOUT):
            raise LakeLayoutError(
                f"The lake {self.root} holds tables in the versioned-folder layout of earlier versions "
                f"({' and '.join(OLD_LAYOUT)}). Convert them once with `fruits-assets migrate-lake` (features are "
                "kept: nothing goes through the network again), or point FRUITS_LAKE at another folder."
            )

    def store(self) -> LocalStore | S3Store:
        if self.is_s3:
            return S3Store(self.root, s3_client(self.s3), self.sse, self.allow_non_eu_region)
        return LocalStore(self.root)

    def uri(self, key: str) -> str:
        """Where ``key`` is, as a person or another tool names it (a path, or s3://)."""
        return self.store().uri(key)

    def key_of(self, uri: str) -> str:
        """The key (relative to the root) of what ``uri`` names."""
        root = self.uri("").rstrip("/")
        if not uri.startswith(root + "/"):
            raise ValueError(f"{uri} is not inside the lake {root}.")
        return uri[len(root) + 1:]

    def storage_options(self) -> dict[str, str]:
        """delta-rs's settings for an S3 lake: the credentials boto3 resolves (profile, SSO,
        instance role...), the region and the endpoint override, as boto3 uses them."""
        if not self.is_s3:
            return {}
        session = boto3.Session()
        options = {"AWS_REGION": session.region_name or "eu-west-3"}
        credentials = session.get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            options.update(AWS_ACCESS_KEY_ID=frozen.access_key, AWS_SECRET_ACCESS_KEY=frozen.secret_key)
            if frozen.token:
                options["AWS_SESSION_TOKEN"] = frozen.token
        endpoint = (self.s3.endpoint_url if self.s3 else None) or endpoint_url()
        if endpoint:
            options.update(AWS_ENDPOINT_URL=endpoint, AWS_ALLOW_HTTP=str(endpoint.startswith("http://")).lower())
        return options

    def delta_table(self, asset: AssetKey, version: int | None = None) -> DeltaTable | None:
        """The table (at ``version``, else its current one) through delta-rs, or None if
        the lake has no such table yet."""
        location = join(self.root.replace("s3a://", "s3://"), self.table_key(asset))
        try:
            return DeltaTable(location, version=version, storage_options=self.storage_options())
        except TableNotFoundError:
            return None

    def table_version(self, asset: AssetKey) -> int | None:
        """The table's current version, or None if the lake has no such table yet."""
        found = self.delta_table(asset)
        return None if found is None else found.version()

    def read_table(self, asset: AssetKey, columns: list[str], classes: list[str] | None = None) -> pa.Table | None:
        """``columns`` of the rows of ``classes`` (all classes if None), or None if the
        table does not exist. Reads only those columns of those classes' files."""
        found = self.delta_table(asset)
        if found is None:
            return None
        filters = [(PARTITION, "in", classes)] if classes is not None else None
        if classes == []:
            return found.to_pyarrow_table(columns=columns).slice(0, 0)
        return found.to_pyarrow_table(columns=columns, filters=filters)
