"""The resources of the deployment ``FRUITS_DEPLOYMENT`` names (``fruits_assets.deployments``),
and how runs execute: in process, so the steps of a run, launched from the CLI or the UI,
share one Spark session."""

from dagster import Definitions, definitions, in_process_executor

from .. import settings
from ..deployments import resources_for


@definitions
def deployment() -> Definitions:
    return Definitions(resources=resources_for(settings.deployment()), executor=in_process_executor)
