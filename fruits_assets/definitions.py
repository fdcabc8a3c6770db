"""The Dagster definitions: every asset (with links to its source code), check, job and
sensor, with the resources of the deployment ``FRUITS_DEPLOYMENT`` names (see ``deployments``)."""

from dagster import Definitions, with_source_code_references

from . import settings
from .assets import ALL_ASSETS
from .checks import ALL_CHECKS
from .deployments import resources_for
from .jobs import ALL_JOBS
from .sensors import fruit_class_sensor

defs = Definitions(
    assets=with_source_code_references(ALL_ASSETS),
    asset_checks=ALL_CHECKS,
    jobs=ALL_JOBS,
    sensors=[fruit_class_sensor],
    resources=resources_for(settings.deployment()),
)
