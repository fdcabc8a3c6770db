"""The Dagster definitions: every asset (with links to its source code), check, job and
sensor, with the resources of the deployment ``FRUITS_DEPLOYMENT`` names (see ``deployments``).
Runs execute in process: the steps of a run, launched from the CLI or the UI, share one
Spark session."""

from dagster import Definitions, in_process_executor, with_source_code_references

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
    executor=in_process_executor,  # a run's steps share one process, so one Spark session (one JVM)
)
