"""A source tree of exactly N images, made by repeating real images.

Each repeat gets a JPEG comment segment naming its copy number: the pixels are
identical, but the bytes (and so the content hash ingest uses as image id) differ,
so no repeat is rejected as a duplicate.
"""

from __future__ import annotations

import struct
from itertools import cycle, islice, zip_longest
from pathlib import Path

from fruits_assets.spark_jobs.tables import SPLITS

JPEG_START = b"\xff\xd8"
COMMENT = b"\xff\xfe"


def source_images(source: Path) -> list[tuple[str, str, Path]]:
    """(split, class, path) of every JPEG of a Fruits-360-style tree, interleaved
    across classes and splits so that any prefix covers them evenly."""
    by_folder = [
        [(split, folder.name, path) for path in sorted(folder.iterdir()) if path.suffix.lower() in (".jpg", ".jpeg")]
        for split in SPLITS
        for folder in sorted((source / split).glob("*"))
        if folder.is_dir()
    ]
    found = [image for column in zip_longest(*by_folder) for image in column if image]
    if not found:
        raise FileNotFoundError(f"No JPEG images under {source}/{{{','.join(SPLITS)}}}/<class>/.")
    return found


def tagged(content: bytes, copy: int) -> bytes:
    """``content`` with a comment segment that makes the bytes unique to ``copy``."""
    if not content.startswith(JPEG_START):
        raise ValueError("Only JPEG files can be repeated.")
    text = f"fruits_assets bench copy {copy}".encode()
    return JPEG_START + COMMENT + struct.pack(">H", len(text) + 2) + text + content[2:]


def build(source: Path, target: Path, count: int) -> dict[str, int]:
    """Write ``count`` images into ``target`` (same splits and classes); return images by class."""
    originals = source_images(source)
    per_class: dict[str, int] = {}
    for copy, (split, cls, path) in enumerate(islice(cycle(originals), count)):
        folder = target / split / cls
        folder.mkdir(parents=True, exist_ok=True)
        content = path.read_bytes() if copy < len(originals) else tagged(path.read_bytes(), copy)
        (folder / f"{path.stem}__{copy}.jpg").write_bytes(content)
        per_class[cls] = per_class.get(cls, 0) + 1
    return per_class
