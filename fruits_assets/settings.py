"""Defaults read from the environment (see the README's Configuration table)."""

from __future__ import annotations

import os
from pathlib import Path


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


def deployment() -> str:
    return os.environ.get("FRUITS_DEPLOYMENT", "local")
