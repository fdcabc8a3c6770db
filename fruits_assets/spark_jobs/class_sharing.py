"""A class-data sharing archive for local Spark drivers (the JDK's dynamic CDS, JEP 350).

``make install`` makes it once (``python -m fruits_assets.spark_jobs.class_sharing``): a
JVM started by ``spark-submit`` ingests the embedded sample into a throw-away Delta lake
and, as it exits, archives the classes it loaded. Every local session's driver then maps
that archive instead of loading and verifying those classes again, and starts its first
jobs about 4 s sooner (docs/benchmarks.md). The JVM ignores an archive it cannot use
(another JDK, another Spark): sessions then only start slower.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyspark

from . import packages

ARCHIVE = "driver-classes"
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"  # classes it cannot archive are noted on stdout otherwise


class ClassSharingError(RuntimeError):
    """The archive could not be made; the message has the end of the JVM's output."""


def archive() -> Path:
    """The archive for this Spark installation. The JVM maps an archive only with the very
    jars (paths, sizes, modification times) it was made from, so each installation (each
    virtual environment, each reinstall) has its own, named by a digest of them."""
    jars = sorted(Path(pyspark.__file__).parent.joinpath("jars").glob("*.jar"))
    stamp = hashlib.sha256(repr([(str(j), j.stat().st_size, j.stat().st_mtime_ns) for j in jars]).encode())
    return packages.cache_dir() / f"spark-{pyspark.__version__}" / f"{ARCHIVE}-{stamp.hexdigest()[:16]}.jsa"


def java_options() -> str:
    """The driver JVM options that map the archive, or "" when it was not made."""
    path = archive()
    return f"-XX:SharedArchiveFile={path} {QUIET}" if path.is_file() else ""


def create() -> Path:
    """Make the archive if it is missing: written beside, then moved into place whole."""
    from .session import LOCAL_JAVA_OPTIONS

    target = archive()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{ARCHIVE}.{os.getpid()}.partial")
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder, "warm_up.py")
        script.write_text(f"from fruits_assets.spark_jobs.class_sharing import warm_up\nwarm_up({folder!r})\n")
        done = subprocess.run(
            [str(submit), "--master", "local[2]", "--jars", packages.jars_conf()["spark.jars"],
             "--driver-java-options", f"{LOCAL_JAVA_OPTIONS} -XX:ArchiveClassesAtExit={partial} {QUIET}", str(script)],
            capture_output=True, text=True, env={**os.environ, "PYSPARK_PYTHON": sys.executable},
        )
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise ClassSharingError(f"spark-submit could not make {target}:\n{(done.stdout + done.stderr)[-3000:]}")
    partial.replace(target)
    return target


def warm_up(folder: str) -> None:
    """What a run's driver does first: ingest two classes into Delta tables, read them back."""
    from .. import sample
    from .contracts import IngestParams
    from .jobs.ingest import ingest
    from .session import build_session
    from .tables import count_ids, read

    spark = build_session(None)
    source = sample.generate(Path(folder, "source"))
    classes = sorted(sample.CLASSES)[:2]
    lake = Path(folder, "lake").as_uri()
    params = IngestParams(source_root=source.as_uri(), raw_images=f"{lake}/raw_images",
                          rejected_images=f"{lake}/rejected_images", classes=classes)
    for _ in range(2):  # creating the tables, then replacing classes in them
        ingest(spark, params)
    count_ids(read(spark, params.raw_images, classes), classes)
    spark.stop()


def main() -> int:
    print(f"class-data sharing archive for local Spark drivers: {create()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
