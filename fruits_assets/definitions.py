"""The Dagster definitions. ``FRUITS_DEPLOYMENT`` (local | aws) picks the resources."""

from __future__ import annotations

import os

from dagster import Definitions

from . import settings
from .assets import ALL_ASSETS
from .checks import ALL_CHECKS
from .resources import FruitSource, LakeIOManager, LakeResource, LocalSpark, MobileNetResource
from .sensors import fruit_class_sensor


def model_resource() -> MobileNetResource:
    return MobileNetResource(
        weights=os.environ.get("FRUITS_WEIGHTS", "auto"),
        backend=os.environ.get("FRUITS_BACKEND", "litert"),
    )


def local_resources() -> dict:
    """Local folder lake, local (or FRUITS_SOURCE) images, in-process Spark."""
    lake = LakeResource(root=settings.lake_root())
    spark = LocalSpark(master=settings.spark_master())
    return {
        "lake": lake,
        "source": FruitSource(root=settings.source_root()),
        "spark": spark,
        "model": model_resource(),
        "lake_io_manager": LakeIOManager(lake=lake, spark=spark),
    }


DEPLOYMENTS = {"local": local_resources}


def resources_for(deployment: str) -> dict:
    if deployment not in DEPLOYMENTS:
        raise ValueError(f"FRUITS_DEPLOYMENT must be one of {sorted(DEPLOYMENTS)}, got {deployment!r}.")
    return DEPLOYMENTS[deployment]()


defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    sensors=[fruit_class_sensor],
    resources=resources_for(settings.deployment()),
)
