"""The feature-extractor configuration handed to the featurize job, and its converted network.

The network is converted by ``python -m fruits_assets.spark_jobs.convert`` in a child
process, so TensorFlow never enters the process that runs the pipeline. Given a lake,
the resource starts that child when a run that needs the network begins and the lake's
model cache lacks it: the conversion (about 10 s on one core) then runs while ingest
uses Spark, since the step that waits for it comes after the other ready steps.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from dagster import ConfigurableResource, InitResourceContext

from ..spark_jobs import mobilenet
from ..spark_jobs.convert import NETWORK_FILE, WEIGHTS_FILE
from ..spark_jobs.mobilenet import ModelSpec, fallback_weights
from .lake import LakeResource

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])  # where the child imports fruits_assets from
MODEL_CACHE = "models/mobilenet_v2"


def bundle_key(spec: ModelSpec, weights: str) -> str:
    """Where the converted network of ``spec`` with ``weights`` lives, relative to the lake root."""
    return f"{MODEL_CACHE}/{mobilenet.cache_key(spec, weights)}.bin"


def cached_network(spec: ModelSpec, exists: Callable[[str], bool], resolved: Iterable[str] = ()) -> str | None:
    """The weights name under which the lake's model cache holds ``spec``'s network, or
    None. ``exists`` tells whether a key (relative to the lake root) is there; ``resolved``
    adds names a conversion already resolved to (``auto`` may have fallen back to random)."""
    return next((w for w in (*mobilenet.cached_weights(spec.weights), *resolved) if exists(bundle_key(spec, w))), None)


class Conversion:
    """``spark_jobs.convert`` running in a child process; ``result`` waits for it."""

    def __init__(self, spec: ModelSpec, cached: Sequence[str] = ()):
        self._folder = tempfile.TemporaryDirectory(prefix="fruits-convert-")
        self._printed = open(Path(self._folder.name) / "printed.txt", "w+")
        path = os.pathsep.join(p for p in (PACKAGE_PARENT, os.environ.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "fruits_assets.spark_jobs.convert", json.dumps(spec.to_dict()), self._folder.name,
             json.dumps(list(cached))],
            stdout=self._printed, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": path},
        )

    def result(self) -> tuple[bytes | None, str]:
        """(bytes to broadcast, weights used); no bytes when the weights resolved to one
        of ``cached``. What the child printed (a download attempt, a fallback to random
        weights) goes to this process's stderr; a failure raises with it."""
        try:
            self._process.wait()
            self._printed.seek(0)
            printed = self._printed.read()
            sys.stderr.write(printed)
            if self._process.returncode != 0:
                raise RuntimeError(f"Converting MobileNetV2 failed (exit code {self._process.returncode}):\n{printed[-4000:]}")
            network, weights = Path(self._folder.name, NETWORK_FILE), Path(self._folder.name, WEIGHTS_FILE)
            return (network.read_bytes() if network.exists() else None), weights.read_text()
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child if it still runs, and remove its files."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._printed.close()
        self._folder.cleanup()


# Conversions started ahead of their use, by (lake root, spec): a run may set up the
# resource more than once (the IO manager holds it too), and must start one child.
_STARTED: dict[tuple[str, ModelSpec], Conversion] = {}
_STARTED_LOCK = threading.Lock()
# The weights each conversion in this process resolved to, by (lake root, spec): ``auto``
# may fall back to ``random``, a name ``mobilenet.cached_weights`` does not try, so the run's later
# steps would otherwise convert again.
_RESOLVED: dict[tuple[str, ModelSpec], str] = {}


def _new_conversion(lake: LakeResource, spec: ModelSpec) -> Conversion:
    """A conversion told which of the weights ``spec`` may fall back to the lake's model
    cache already holds (it then converts none of them again)."""
    cached = [w for w in fallback_weights(spec.weights) if lake.store().exists(bundle_key(spec, w))]
    return Conversion(spec, cached)


def _start(lake: LakeResource, spec: ModelSpec) -> None:
    with _STARTED_LOCK:
        if (lake.root, spec) not in _STARTED:
            _STARTED[(lake.root, spec)] = _new_conversion(lake, spec)


def _take(lake: LakeResource, spec: ModelSpec) -> Conversion:
    """The conversion started for ``spec`` and this lake, else a new one."""
    with _STARTED_LOCK:
        started = _STARTED.pop((lake.root, spec), None)
    return started or _new_conversion(lake, spec)


def _stop(root: str, spec: ModelSpec) -> None:
    with _STARTED_LOCK:
        started = _STARTED.pop((root, spec), None)
    if started is not None:
        started.close()


class MobileNetResource(ConfigurableResource):
    """MobileNetV2 settings: weights (auto | imagenet | random | file), backend
    (litert | keras), decoded image size, network input size, seed, batch, threads; and
    the lake whose model cache a run converts into ahead of the ``mobilenet_v2`` step."""

    weights: str = "auto"
    backend: str = "litert"
    image_size: int = 100
    input_size: int = 224
    seed: int = 0
    batch_size: int = 0  # 0: the backend's best (mobilenet.BEST_BATCH)
    threads: int = 0
    lake: Optional[LakeResource] = None

    def spec(self) -> ModelSpec:
        """The validated spec; raises before any Spark work if a setting is wrong."""
        return ModelSpec(
            weights=self.weights,
            backend=self.backend,
            image_size=self.image_size,
            input_size=self.input_size,
            seed=self.seed,
            batch_size=self.batch_size,
            threads=self.threads,
        ).validate()

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Start converting if the lake's model cache lacks the network (only runs with a
        step that needs the network set this resource up). A wrong setting starts nothing:
        the step reports it."""
        if self.lake is None:
            return
        spec = self._valid_spec()
        if spec is not None and self._cached(self.lake, spec) is None:
            _start(self.lake, spec)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        """Stop a conversion the run started but never used (an earlier step failed)."""
        spec = self._valid_spec() if self.lake is not None else None
        if spec is not None:
            _stop(self.lake.root, spec)

    def _valid_spec(self) -> ModelSpec | None:
        """The spec, or None when a setting is wrong (the step that needs it reports why)."""
        try:
            return self.spec()
        except (ValueError, FileNotFoundError):
            return None

    @staticmethod
    def _cached(lake: LakeResource, spec: ModelSpec) -> str | None:
        """The weights name under which the lake's model cache holds ``spec``'s network, or None."""
        resolved = _RESOLVED.get((lake.root, spec))
        return cached_network(spec, lake.store().exists, [resolved] if resolved else [])

    def prepare(self, lake: LakeResource) -> ModelSpec:
        """The spec with its weights resolved (``auto`` -> imagenet or random, a file ->
        ``file:<sha>``) and its converted network in the lake's model cache, converted
        now if absent (or awaited, when the run started converting): the Spark job then
        only reads it, so EMR nodes need no TensorFlow. ``auto`` tries ImageNet in every
        new process; falling back to a random network the cache holds converts nothing."""
        spec = self.spec()
        weights = self._cached(lake, spec)
        if weights is not None:
            return replace(spec, weights=weights)
        payload, weights_used = _take(lake, spec).result()
        if payload is not None:
            lake.store().write_bytes(bundle_key(spec, weights_used), payload)
        _RESOLVED[lake.root, spec] = weights_used
        return replace(spec, weights=weights_used)
