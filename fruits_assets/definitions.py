"""The Dagster definitions: every asset, check and sensor, with the resources of the
deployment ``FRUITS_DEPLOYMENT`` names (see ``deployments``)."""

from dagster import Definitions

from . import settings
from .assets import ALL_ASSETS
from .checks import ALL_CHECKS
from .deployments import resources_for
from .sensors import fruit_class_sensor

defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    sensors=[fruit_class_sensor],
    resources=resources_for(settings.deployment()),
)
