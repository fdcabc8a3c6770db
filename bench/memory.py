"""Peak resident memory of the driver, its JVM, the Spark Python workers and the
network's converter (a child process of the driver while it converts)."""

from __future__ import annotations

import threading
import time

import psutil

WORKER_MARKERS = ("pyspark.daemon", "pyspark.worker")
CONVERTER_MARKER = "fruits_assets.spark_jobs.convert"


def _role(process: psutil.Process) -> str | None:
    try:
        cmdline = " ".join(process.cmdline())
        name = process.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    if any(marker in cmdline for marker in WORKER_MARKERS):
        return "python_worker"
    if CONVERTER_MARKER in cmdline:
        return "converter"
    if "java" in name or "org.apache.spark" in cmdline:
        return "jvm"
    return None


def _high_water_mark(pid: int) -> int:
    """The kernel's own peak RSS of ``pid`` so far (Linux ``VmHWM``), so a spike between
    two samples still counts; 0 where there is none."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakMemory:
    """Samples RSS every ``interval`` s while active (use as a context manager), of
    ``root`` (this process by default) as the driver and of its JVM, workers and converter;
    on Linux each sample of a process started during the measurement also reads the
    kernel's peak so far, so the last one before it ends holds its exact peak."""

    def __init__(self, interval: float = 0.1, root: psutil.Process | None = None):
        self.interval = interval
        self.peaks = {"driver_python": 0, "jvm": 0, "python_worker": 0, "converter": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._me = root or psutil.Process()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._record("driver_python", self._me)
            for child in self._me.children(recursive=True):
                role = _role(child)
                if role:
                    self._record(role, child)
            self._stop.wait(self.interval)

    def _record(self, role: str, process: psutil.Process) -> None:
        try:
            rss = process.memory_info().rss
            if process.create_time() >= self._started:  # its whole life is inside the measurement
                rss = max(rss, _high_water_mark(process.pid))
            self.peaks[role] = max(self.peaks[role], rss)
        except psutil.NoSuchProcess:
            pass

    def __enter__(self) -> "PeakMemory":
        # create_time() is counted from the boot time, which Linux gives in whole seconds:
        # a process started up to a second before this still counts as started during it.
        self._started = time.time() - 1.0
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def mib(self) -> dict[str, float]:
        return {f"peak_rss_{role}_mib": round(rss / 2**20, 1) for role, rss in self.peaks.items()}
