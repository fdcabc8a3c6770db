"""Which classes ingest must read again: those whose files (paths, sizes, modification
times, as listed now) are not exactly the files the lake's two tables hold for them.
Every file of a class is in ``raw_images`` or in ``rejected_images``, with its size and
modification time, so the tables themselves say what they were ingested from."""

from __future__ import annotations

from collections import Counter, defaultdict

import pyarrow as pa

from ...resources.source import SourceFile
from ...spark_jobs.contracts import IngestedClass

RAW_COLUMNS = ["label", "split", "path", "file_size", "file_modified", "image_id"]
REJECTED_COLUMNS = ["label", "split", "path", "file_size", "file_modified", "reason"]
FileKey = tuple[str, int, int]  # (path below the source root, size, modification time in ms)


def _rows(table: pa.Table | None) -> list[dict]:
    if table is None:
        return []
    modified = table.column("file_modified").cast(pa.timestamp("ms")).cast(pa.int64())
    return table.set_column(table.schema.get_field_index("file_modified"), "file_modified", modified).to_pylist()


def relative_path(path: str, split: str, label: str) -> str:
    """``<split>/<class>/<rest>`` of a path Spark reported for a file of the class."""
    marker = f"/{split}/{label}/"
    return path[path.index(marker) + 1:]


class HeldFiles:
    """What the two tables hold for some classes."""

    def __init__(self, raw: pa.Table | None, rejected: pa.Table | None):
        self.raw, self.rejected = _rows(raw), _rows(rejected)

    def files(self) -> dict[str, set[FileKey]]:
        held: dict[str, set[FileKey]] = defaultdict(set)
        for row in self.raw + self.rejected:
            held[row["label"]].add((relative_path(row["path"], row["split"], row["label"]), row["file_size"],
                                    row["file_modified"]))
        return held

    def rejected_classes(self) -> list[str]:
        return sorted({row["label"] for row in self.rejected})

    def measures(self, listed: dict[str, list[SourceFile]], classes: list[str]) -> dict[str, IngestedClass]:
        """Each class's figures as the tables hold them (for classes not read again)."""
        ids, reasons = defaultdict(list), defaultdict(Counter)
        for row in self.raw:
            ids[row["label"]].append(row["image_id"])
        for row in self.rejected:
            reasons[row["label"]][row["reason"]] += 1
        return {
            cls: IngestedClass(
                files=len(listed[cls]), ingested=len(ids[cls]), distinct_ids=len(set(ids[cls])),
                rejected=sum(reasons[cls].values()), rejected_by_reason=dict(reasons[cls]), thumbnails=None,
            )
            for cls in classes
        }


def unchanged_classes(listed: dict[str, list[SourceFile]], held: HeldFiles) -> list[str]:
    """The classes whose listed files are exactly the files the tables hold for them."""
    files = held.files()
    return [cls for cls, found in listed.items()
            if {(f.relative, f.size, f.modified_ms) for f in found} == files.get(cls, set())]
