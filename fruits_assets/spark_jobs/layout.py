"""Where each table lives in the lake, relative to the lake root.

Every partitioned table is stored as ``<table>/<partition key>/v=<version>/``; the
current version of a partition is the newest one holding a ``_COMMITTED`` marker
(see ``versioned``). Unpartitioned tables use the same scheme without the key.
"""

from __future__ import annotations

import re

TABLES = {
    "raw_images": "data/raw/images",
    "rejected_images": "data/raw/rejected",
    "image_features": "data/features",
    "pca_model": "models/pca",
    "pca_matrix": "data/pca",
    "fruit_classifier": "models/classifier",
}
MODEL_CACHE = "models/mobilenet_v2"
STAGING = "_staging"
PLOTS = "meta/plots"
LOGS = "logs"

_FORBIDDEN = re.compile(r"[/\\\x00-\x1f\x7f]")


class InvalidPartitionKey(ValueError):
    """A partition key that is not a plain folder name."""


def check_partition_key(key: str) -> str:
    """Return ``key`` if it is a safe single folder name, else raise.

    Refuses keys that could escape their table directory (``..``, ``/``) or that
    Spark and Hadoop would treat as hidden (leading ``.`` or ``_``).
    """
    if (
        not key
        or key.strip() != key
        or key in (".", "..")
        or key[0] in "._"
        or _FORBIDDEN.search(key)
        or len(key) > 200
    ):
        raise InvalidPartitionKey(
            f"Invalid fruit class {key!r}: a class must be a plain folder name "
            "(no '/', '\\', '..', control characters, or leading '.', '_' or spaces)."
        )
    return key


def table_dir(table: str, partition: str | None = None) -> str:
    """Path of a table (or one of its partitions) relative to the lake root."""
    base = TABLES[table]
    return f"{base}/{check_partition_key(partition)}" if partition is not None else base
