"""Which fruit classes ``images_by_class`` would change: the stale and missing partitions
that ``fruits-assets run`` launches (as the UI's "Materialize stale and missing" does).

A class is up to date when its ``image_features`` partition is materialized, the source
lists exactly the files the two ingest tables hold for it, and its features are one per
raw image from the current model: the tests the assets themselves apply to every class a
run gives them, so launching an up-to-date class is harmless, only slower."""

from __future__ import annotations

from collections.abc import Callable

from dagster import AssetPartitionStatus, DagsterInstance

from ..partitions import fruit_classes
from ..resources import LakeResource
from ..resources.source import SourceFile
from .features import changes as feature_changes
from .features.assets import IMAGE_FEATURES
from .ingest import changes as ingest_changes
from .ingest.assets import RAW_IMAGES, REJECTED_IMAGES


def stale_classes(instance: DagsterInstance, listed: dict[str, list[SourceFile]], lake: LakeResource,
                  model_id: Callable[[], str]) -> list[str]:
    """The classes of ``listed`` (the source's files by class) to launch, in its order;
    ``model_id`` gives the current network's id, and is called only when some class
    holds features."""
    classes = list(listed)
    raw = lake.read_table(RAW_IMAGES, ingest_changes.RAW_COLUMNS, classes)
    features = lake.read_table(IMAGE_FEATURES, feature_changes.FEATURE_COLUMNS, classes) if raw is not None else None
    if features is None or not len(features):
        return classes
    status = instance.get_status_by_partition(IMAGE_FEATURES, classes, fruit_classes) or {}
    held = ingest_changes.HeldFiles(raw, lake.read_table(REJECTED_IMAGES, ingest_changes.REJECTED_COLUMNS, classes))
    unchanged = set(ingest_changes.unchanged_classes(listed, held))
    featured = feature_changes.held_features(raw.select(feature_changes.RAW_COLUMNS), features, model_id(), classes)
    return [c for c in classes
            if status.get(c) != AssetPartitionStatus.MATERIALIZED or c not in unchanged or not featured[c].current]
