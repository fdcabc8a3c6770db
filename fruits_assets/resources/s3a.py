"""Spark's S3A connector on a laptop: its jars, endpoint and server-side encryption.

pip's pyspark carries Hadoop's client but not ``hadoop-aws``. Where Maven Central is
reachable, Spark fetches ``hadoop-aws`` matching that client by coordinates
(``spark.jars.packages``). Elsewhere the jars come from the PyPI source distribution
of ``sagemaker_pyspark`` (Apache-2.0), which ships ``hadoop-aws-3.3.1`` and the AWS SDK
bundle it was built against; both are checked by SHA-256 and cached.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pyspark

from ..spark_jobs.mobilenet import sha256_file

# SSE-S3 for every object S3A writes. Hadoop 3.3 reads the first key, 3.4 the second
# (and the first as its deprecated alias); both take "AES256" for SSE-S3. Hadoop 3.3
# refuses "SSE-S3" there ("Unknown encryption algorithm").
SSE_ALGORITHM = "AES256"
SSE_CONF = {"fs.s3a.server-side-encryption-algorithm": SSE_ALGORITHM, "fs.s3a.encryption.algorithm": SSE_ALGORITHM}

MAVEN_HOST = ("repo1.maven.org", 443)


@dataclass(frozen=True)
class PinnedFile:
    name: str
    sha256: str


SDIST = "sagemaker_pyspark==1.4.5"
SDIST_FILE = PinnedFile("sagemaker_pyspark-1.4.5.tar.gz", "05ca2d5081d7138ce29a8fb0a9cba077f28c825288ed07aed46a82e63c0bf1fb")
SDIST_JARS = (
    PinnedFile("hadoop-aws-3.3.1.jar", "6be50ad8a8b445d2802381b085b2a3ede5c29d353450a6a21f16b2fefa962b6e"),
    PinnedFile("aws-java-sdk-bundle-1.11.901.jar", "b87175b32a16544cc1b37cf40390eb375833e62bed67f8ce6cde4b7ad6429ead"),
)


class S3AJarsError(RuntimeError):
    """The S3A jars could not be had; the message says what was tried."""


def hadoop_client_version() -> str:
    """Version of the Hadoop client inside pip's pyspark (e.g. 3.3.4)."""
    jars = Path(pyspark.__file__).parent / "jars"
    for jar in jars.glob("hadoop-client-api-*.jar"):
        return jar.stem.removeprefix("hadoop-client-api-")
    raise S3AJarsError(f"No hadoop-client-api jar in {jars}: is pyspark installed from pip?")


def cache_dir() -> Path:
    """``$FRUITS_CACHE/s3a-jars``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, then ``fruits_assets/s3a-jars``."""
    if os.environ.get("FRUITS_CACHE"):
        return Path(os.environ["FRUITS_CACHE"]) / "s3a-jars"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "fruits_assets" / "s3a-jars"


def _verified(path: Path, pinned: PinnedFile) -> Path:
    found = sha256_file(path)
    if found != pinned.sha256:
        raise S3AJarsError(f"{pinned.name}: SHA-256 {found} is not the pinned {pinned.sha256}; refusing it.")
    return path


def cached_jars(folder: Path | None = None) -> list[Path] | None:
    """The cached jars, or None while any is missing (files land there only once verified)."""
    folder = folder or cache_dir()
    paths = [folder / jar.name for jar in SDIST_JARS]
    return paths if all(p.is_file() for p in paths) else None


def fetch_jars(folder: Path | None = None) -> list[Path]:
    """Download the sdist with pip, check it and its two jars by SHA-256, cache the jars."""
    folder = folder or cache_dir()
    if cached := cached_jars(folder):
        return cached
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".fetch-") as tmp:
        download = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             "--dest", tmp, SDIST],
            capture_output=True, text=True,
        )
        sdist = Path(tmp) / SDIST_FILE.name
        if download.returncode != 0 or not sdist.is_file():
            raise S3AJarsError(f"pip could not download {SDIST}:\n{download.stderr[-2000:]}")
        _verified(sdist, SDIST_FILE)
        with tarfile.open(sdist) as archive:
            for jar in SDIST_JARS:
                member = archive.getmember(f"{SDIST_FILE.name.removesuffix('.tar.gz')}/deps/jars/{jar.name}")
                extracted = Path(tmp) / jar.name
                with archive.extractfile(member) as src, open(extracted, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.replace(_verified(extracted, jar), folder / jar.name)
    return cached_jars(folder)


def maven_reachable(timeout: float = 3.0) -> bool:
    try:
        socket.create_connection(MAVEN_HOST, timeout=timeout).close()
        return True
    except OSError:
        return False


@functools.cache
def jars_conf(source: str = "auto") -> dict[str, str]:
    """Spark settings that put S3A on the classpath. ``source``: ``maven`` (by coordinates),
    ``pypi`` (the checked sdist jars, fetched once), or ``auto`` (Maven when reachable)."""
    if source not in ("auto", "maven", "pypi"):
        raise ValueError(f"S3A jars source must be auto, maven or pypi, got {source!r}.")
    if source == "maven" or (source == "auto" and maven_reachable()):
        return {"spark.jars.packages": f"org.apache.hadoop:hadoop-aws:{hadoop_client_version()}"}
    return {"spark.jars": ",".join(str(p) for p in fetch_jars())}


def endpoint_url(env: Mapping[str, str] = os.environ) -> str | None:
    """The standard AWS endpoint override (``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``)."""
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None


def connection_conf(env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """How S3A reaches S3 (without the ``spark.hadoop.`` prefix): credentials from the
    standard AWS chain, and the endpoint with path-style access when one is set."""
    conf = {"fs.s3a.aws.credentials.provider": "com.amazonaws.auth.DefaultAWSCredentialsProviderChain"}
    if endpoint := endpoint_url(env):
        conf["fs.s3a.endpoint"] = endpoint
        conf["fs.s3a.path.style.access"] = "true"
        conf["fs.s3a.connection.ssl.enabled"] = str(endpoint.startswith("https://")).lower()
        if region := env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"):
            conf["fs.s3a.endpoint.region"] = region
    return conf


def spark_conf(source: str = "auto", env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Everything a local Spark session needs to read and write ``s3a://``, encrypted."""
    hadoop = {**SSE_CONF, **connection_conf(env)}
    return {**jars_conf(source), **{f"spark.hadoop.{k}": v for k, v in hadoop.items()}}
