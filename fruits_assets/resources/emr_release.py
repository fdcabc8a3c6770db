"""What an EMR release implies for the cluster request: its S3 connector, the encryption
settings that connector reads, the Python the bootstrap provides, the packages it installs.

From emr-7.10.0, S3A serves ``s3://``, ``s3n://`` and ``s3a://`` on EMR (AWS's
"Migration Guide: EMRFS to S3A Filesystem"); before it, EMRFS does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata

from ..spark_jobs.packages import DELTA_CONF
from .s3a import SSE_CONF

DEFAULT_RELEASE = "emr-7.12.0"
FIRST_S3A_RELEASE = (7, 10, 0)
FIRST_SUPPORTED = (7, 1, 0)  # the first 7.x whose image ships Python 3.11
PYTHON = "/usr/bin/python3.11"

# What the Spark step imports beyond what EMR ships (Spark 3.5, its pyspark, Delta Lake):
# no pyspark, no Dagster, no TensorFlow (the converted network comes from the lake; the
# workers run it with LiteRT).
STEP_PACKAGES = (
    "numpy", "pandas", "pyarrow", "pillow", "matplotlib", "boto3", "ai-edge-litert", "threadpoolctl",
)


class UnsupportedRelease(ValueError):
    """A release label this project does not run on."""


@dataclass(frozen=True)
class EmrRelease:
    label: str

    @property
    def version(self) -> tuple[int, int, int]:
        match = re.fullmatch(r"emr-(\d+)\.(\d+)\.(\d+)", self.label)
        if not match:
            raise UnsupportedRelease(f"{self.label!r} is not an EMR release label like 'emr-7.12.0'.")
        return tuple(int(part) for part in match.groups())  # type: ignore[return-value]

    def check(self) -> "EmrRelease":
        if not (FIRST_SUPPORTED <= self.version < (8, 0, 0)):
            raise UnsupportedRelease(
                f"{self.label} is not supported: use an emr-7.x release from emr-7.1.0 "
                f"(Spark 3.5 with Python 3.11); the default is {DEFAULT_RELEASE}."
            )
        return self

    @property
    def s3_connector(self) -> str:
        return "S3A" if self.version >= FIRST_S3A_RELEASE else "EMRFS"

    @property
    def python(self) -> str:
        """The interpreter the bootstrap provides, and the one Spark's steps run."""
        return PYTHON

    def configurations(self) -> list[dict]:
        """The cluster's ``Configurations``: the cluster's own Delta Lake, enabled and set
        as Spark's catalog (steps ship no jars), and SSE-S3 for every object Spark writes,
        set for the connector this release uses rather than left to the EMRFS-to-S3A
        translation (on S3A: Hadoop 3.4's key, and its 3.3 alias, which 3.4 still reads)."""
        delta = [
            {"Classification": "delta-defaults", "Properties": {"delta.enabled": "true"}},
            {"Classification": "spark-defaults", "Properties": dict(DELTA_CONF)},
        ]
        if self.s3_connector == "S3A":
            return [*delta, {"Classification": "core-site", "Properties": dict(SSE_CONF)}]
        return [*delta, {"Classification": "emrfs-site", "Properties": {"fs.s3.enableServerSideEncryption": "true"}}]

    def hadoop_properties(self) -> dict[str, str]:
        """The Hadoop properties of ``configurations()`` (what a local session can apply)."""
        return {k: v for c in self.configurations() if c["Classification"] == "core-site" for k, v in c["Properties"].items()}


def step_requirements() -> list[str]:
    """``STEP_PACKAGES`` with the version ranges this project declares for them."""
    declared = {}
    for requirement in metadata.requires("fruits_assets") or []:
        if ";" in requirement:  # extras
            continue
        name = re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0].lower()
        declared[name] = requirement.replace(" ", "")
    missing = [p for p in STEP_PACKAGES if p not in declared]
    if missing:
        raise RuntimeError(f"pyproject.toml declares no version for the EMR step packages {missing}.")
    return [declared[p] for p in STEP_PACKAGES]
