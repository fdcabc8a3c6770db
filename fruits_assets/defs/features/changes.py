"""Which classes featurize must write again: those whose feature rows are not one per raw
image (same id, path and split) from the current model. The comparison reads the id
columns of both tables, not the images or the features."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa

from ..shared import digest

RAW_COLUMNS = ["label", "image_id", "path", "split"]
FEATURE_COLUMNS = [*RAW_COLUMNS, "model"]


@dataclass(frozen=True)
class HeldFeatures:
    """What the tables hold for one class."""

    raw_rows: int
    rows: int
    distinct_ids: int
    current: bool  # one feature row per raw image, all from the current model
    reusable: bool  # some feature rows are from the current model
    content: str  # a digest of the raw images' ids, paths and splits, and the model


def held_features(raw: pa.Table | None, features: pa.Table | None, model: str, classes: list[str]) -> dict[str, HeldFeatures]:
    images, featured = defaultdict(list), defaultdict(list)
    for row in raw.to_pylist() if raw is not None else []:
        images[row["label"]].append((row["image_id"], row["path"], row["split"]))
    for row in features.to_pylist() if features is not None else []:
        featured[row["label"]].append((row["image_id"], row["path"], row["split"], row["model"]))
    held = {}
    for cls in classes:
        expected = sorted(images[cls])
        found = featured[cls]
        current = sorted((i, p, s) for i, p, s, m in found if m == model) == expected and all(m == model for *_, m in found)
        held[cls] = HeldFeatures(
            raw_rows=len(expected), rows=len(found), distinct_ids=len({row[0] for row in found}), current=current,
            reusable=any(m == model for *_, m in found), content=digest([model, expected]),
        )
    return held
