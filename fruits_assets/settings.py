"""Defaults read from the environment (see the README's Configuration table)."""

from __future__ import annotations

import os
from pathlib import Path


class DeploymentError(RuntimeError):
    """The chosen deployment lacks settings or credentials; the message lists them."""


def project_home() -> Path:
    """Where local state lives: ``FRUITS_HOME``, else the current directory."""
    return Path(os.environ.get("FRUITS_HOME") or os.getcwd()).resolve()


def lake_root() -> str:
    """``FRUITS_LAKE`` (a path or s3:// URI), else ``<home>/.lake``."""
    return os.environ.get("FRUITS_LAKE") or str(project_home() / ".lake")


def source_root() -> str:
    """``FRUITS_SOURCE`` (a path or s3:// URI), else "" for the embedded sample."""
    return os.environ.get("FRUITS_SOURCE", "")


def sample_dir() -> Path:
    return project_home() / ".sample"


def spark_master() -> str:
    return os.environ.get("FRUITS_SPARK_MASTER", "local[*]")


def s3a_jars() -> str:
    """``FRUITS_S3A_JARS``: where local Spark gets the S3A jars (auto | maven | pypi)."""
    return os.environ.get("FRUITS_S3A_JARS", "auto")


def deployment() -> str:
    return os.environ.get("FRUITS_DEPLOYMENT", "local")


def allow_non_eu_region() -> bool:
    """``FRUITS_ALLOW_NON_EU_REGION=1`` lifts the GDPR region guard (documented override)."""
    return os.environ.get("FRUITS_ALLOW_NON_EU_REGION", "") in ("1", "true", "yes")
