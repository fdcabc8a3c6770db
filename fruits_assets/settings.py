"""What is read from the environment outside the resources' EnvVars: the project's home,
the deployment, and the region guard's override (see the README's Configuration table)."""

from __future__ import annotations

import os
from pathlib import Path


class DeploymentError(RuntimeError):
    """The chosen deployment lacks settings or credentials; the message lists them."""


def project_home() -> Path:
    """Where local state lives: ``FRUITS_HOME``, else the current directory."""
    return Path(os.environ.get("FRUITS_HOME") or os.getcwd()).resolve()


def default_lake() -> str:
    """The local lake when ``FRUITS_LAKE`` is not set: ``<home>/.lake``."""
    return str(project_home() / ".lake")


def sample_dir() -> Path:
    return project_home() / ".sample"


def deployment() -> str:
    """``FRUITS_DEPLOYMENT``: the one setting that picks the resources (local | aws)."""
    return os.environ.get("FRUITS_DEPLOYMENT", "local")


def allow_non_eu_region() -> bool:
    """``FRUITS_ALLOW_NON_EU_REGION=1`` lifts the GDPR region guard (documented override)."""
    return os.environ.get("FRUITS_ALLOW_NON_EU_REGION", "") in ("1", "true", "yes")
