"""An archive of the Java classes a local Spark session loads (AppCDS): a JVM that maps
it starts Spark and runs its first jobs about 4 s sooner (docs/benchmarks.md).

``python -m fruits_assets.spark_jobs.class_archive`` writes it (``make install`` does):
a child process ingests the embedded sample, and its JVM dumps the classes it loaded as
it exits; the file is then moved into place, so a session never maps a partial one.
Local sessions map it when it exists (``session.build_session``); a JVM that cannot
use it (another JDK, other jars) starts as it would without it. A JVM started with a
Java agent or a flight recording does not map it: this JDK crashes at start when an
agent's class-file hook meets an archived class (docs/benchmarks.md).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyspark

QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"  # the dump warns about every class it skips; a mismatched archive warns at start
JVM_EXIT_SECONDS = 300  # the dump itself takes about 10 s
MODULE = "fruits_assets.spark_jobs.class_archive"
# Options that load an agent or start a flight recording as the JVM starts, and the
# variables through which a local driver's JVM also gets options (the JVM reads the
# first three itself; spark-submit adds SPARK_SUBMIT_OPTS to the driver's command).
AGENT_OPTIONS = re.compile(r"(^|\s)(-javaagent:|-agentpath:|-agentlib:|-XX:StartFlightRecording)")
JVM_OPTION_VARIABLES = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "SPARK_SUBMIT_OPTS")


def default_path() -> Path:
    """Where this environment's archive lives: next to its Python, per Spark version."""
    return Path(sys.prefix) / "share" / "fruits_assets" / f"spark-{pyspark.__version__}-classes.jsa"


def java_options(archive: Path, other_options: str = "") -> str:
    """The Java options that map ``archive``, or "" when there is none, or when
    ``other_options`` or the environment's JVM options start an agent."""
    given = " ".join([other_options, *(os.environ.get(name, "") for name in JVM_OPTION_VARIABLES)])
    if not archive.is_file() or AGENT_OPTIONS.search(given):
        return ""
    return f"-XX:SharedArchiveFile={archive} {QUIET}"


def write(target: Path) -> Path:
    """Write the archive to ``target`` (replacing it); raise with the child's output if
    its JVM wrote none."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    done = subprocess.run([sys.executable, "-m", MODULE, "--dump", str(partial)], capture_output=True, text=True)
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"No class archive was written (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    os.replace(partial, target)
    return target


def _dump(partial: str) -> None:
    """Ingest the embedded sample in a session whose JVM dumps its classes to ``partial``
    at exit; end that JVM and wait for it."""
    from .. import sample
    from . import jobs
    from .contracts import IngestParams
    from .session import build_session
    from .versioned import VersionedLake

    spark = build_session("local[2]", {"spark.driver.extraJavaOptions": f"-XX:ArchiveClassesAtExit={partial} {QUIET}"},
                          class_archive=None)
    with tempfile.TemporaryDirectory() as work:
        source = sample.generate(Path(work) / "source")
        lake = f"file://{work}/lake"
        classes = sorted(sample.CLASSES)
        jobs.run(spark, IngestParams(source_root=f"file://{source}", lake_root=lake, classes=classes))
        VersionedLake(spark, lake).read_parquet("raw_images", classes).select("path", "label").write.csv(f"file://{work}/csv")
    try:
        spark.sparkContext._jvm.java.lang.System.exit(0)  # the JVM dumps the archive, then exits
    except Exception:  # noqa: BLE001 - the call never returns: its connection closes with the JVM
        pass
    deadline = time.monotonic() + JVM_EXIT_SECONDS
    while time.monotonic() < deadline:
        pid, _ = os.waitpid(-1, os.WNOHANG)  # the JVM is this process's only child
        if pid:
            return
        time.sleep(0.2)
    raise TimeoutError(f"The JVM did not exit within {JVM_EXIT_SECONDS} s of being asked to.")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--dump"]:
        _dump(argv[1])
        return 0
    target = write(default_path())
    print(f"Spark class archive: {target} ({target.stat().st_size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
