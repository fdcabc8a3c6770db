"""MobileNetV2 feature extractor: built once on the driver, run by the workers.

The network takes uint8 images of ``image_size`` pixels; resizing to
``input_size`` and ``mobilenet_v2.preprocess_input`` scaling (x / 127.5 - 1) are
layers of the graph, so both backends get identical inputs. ``bundle`` returns
the bytes that are broadcast: a TFLite flatbuffer for ``litert`` (XNNPACK, the CPU
default) or the Keras weights for ``keras`` (the reference, and the GPU path).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import pickle
import re
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from typing import Collection

import numpy as np

log = logging.getLogger(__name__)

FEATURES = 1280
BACKENDS = ("litert", "keras")
IMAGENET = "imagenet"
RANDOM = "random"
AUTO = "auto"
# Images per network call when ``batch_size`` is 0. LiteRT runs fastest one image at a
# time (its activations stay in the CPU cache: on 2 cores 350 images/s against 230 at 64,
# docs/benchmarks.md); Keras needs large batches to amortize each call.
BEST_BATCH = {"litert": 1, "keras": 64}


@dataclass(frozen=True)
class ModelSpec:
    """Everything that decides the features, plus how to run the network."""

    weights: str = AUTO  # auto | imagenet | random | path or s3:// URI of a weights file
    backend: str = "litert"
    image_size: int = 100
    input_size: int = 224
    seed: int = 0
    batch_size: int = 0  # images per network call; 0 = the backend's BEST_BATCH
    threads: int = 0  # per Python worker; 0 = spark.task.cpus

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> "ModelSpec":
        """This spec with its batch size resolved; raises on a setting that cannot work."""
        if self.backend not in BACKENDS:
            raise ValueError(f"Unknown backend {self.backend!r}; choose one of {BACKENDS}.")
        if not 32 <= self.input_size <= 1024:
            raise ValueError(f"input_size must be within 32..1024, got {self.input_size}.")
        if not 8 <= self.image_size <= 1024:
            raise ValueError(f"image_size must be within 8..1024, got {self.image_size}.")
        if self.batch_size < 0 or self.threads < 0:
            raise ValueError("batch_size and threads must be >= 0 (0: the default).")
        if self.weights not in (AUTO, IMAGENET, RANDOM) and "://" not in self.weights and not is_converted(self.weights):
            if not os.path.isfile(self.weights):
                raise FileNotFoundError(
                    f"Weights file {self.weights!r} does not exist. Use 'imagenet', 'random', "
                    "'auto', an existing .h5/.weights.h5 file or an s3:// URI."
                )
        return replace(self, batch_size=self.batch_size or BEST_BATCH[self.backend])


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def native_notices_off():
    """Keep what native libraries print on stderr (TensorFlow's absl and oneDNN start-up
    notices, LiteRT's "Created TensorFlow Lite XNNPACK delegate") off it; errors still raise."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_tensorflow_quietly() -> None:
    if "tensorflow" not in sys.modules:
        with native_notices_off():
            import tensorflow  # noqa: F401


_CONVERTED = re.compile(r"file:[0-9a-f]{16}")


def is_converted(weights: str) -> bool:
    """``file:<sha256 prefix>``: a weights file already converted into the lake's model cache."""
    return bool(_CONVERTED.fullmatch(weights))


def cached_weights(weights: str) -> list[str]:
    """The weights names under which the lake's model cache may already hold ``weights``."""
    if weights in (AUTO, IMAGENET):
        return [IMAGENET]
    if weights == RANDOM or is_converted(weights):
        return [weights]
    if "://" not in weights and os.path.isfile(weights):  # a local weights file: named by its content
        return [f"file:{sha256_file(weights)[:16]}"]
    return []


def architecture(image_size: int, input_size: int, weights: str | None):
    """uint8 image -> resize -> preprocess_input -> MobileNetV2 (no top, avg pool)."""
    import keras

    inputs = keras.Input((image_size, image_size, 3), dtype="uint8", name="image")
    x = keras.ops.cast(inputs, "float32")
    if image_size != input_size:
        x = keras.layers.Resizing(input_size, input_size, interpolation="bilinear")(x)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(x)
    base = keras.applications.MobileNetV2(
        input_shape=(input_size, input_size, 3), include_top=False, pooling="avg", weights=weights
    )
    return keras.Model(inputs, base(x), name="mobilenet_v2_features")


def _calibrate_batch_norm(model, seed: int, image_size: int) -> None:
    """Set BatchNorm statistics from one seeded batch, so random weights give
    well-scaled, non-degenerate features instead of values that vanish with depth."""
    import keras

    layers = [l for l in model._flatten_layers() if isinstance(l, keras.layers.BatchNormalization)]
    rng = np.random.default_rng(seed)
    batch = rng.integers(0, 256, (16, image_size, image_size, 3), dtype=np.uint8)
    momenta = [l.momentum for l in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(batch, training=True)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum


def _local_weights_file(uri: str) -> str:
    if not uri.startswith("s3://"):
        return uri
    import boto3

    bucket, key = uri[5:].split("/", 1)
    target = os.path.join(tempfile.mkdtemp(prefix="fruits-weights-"), os.path.basename(key))
    boto3.client("s3").download_file(bucket, key, target)
    return target


def build_keras(spec: ModelSpec):
    """(Keras model, weights actually used). ``auto`` falls back to seeded random
    weights, loudly, when ImageNet weights cannot be downloaded."""
    _import_tensorflow_quietly()
    import keras

    keras.utils.set_random_seed(spec.seed)
    if spec.weights in (AUTO, IMAGENET):
        try:
            return architecture(spec.image_size, spec.input_size, IMAGENET), IMAGENET
        except Exception as exc:  # noqa: BLE001 - any download failure means "not obtainable"
            if spec.weights == IMAGENET:
                raise RuntimeError(f"ImageNet weights could not be loaded: {exc}") from exc
            log.warning(
                "IMAGENET WEIGHTS NOT OBTAINABLE (%s): falling back to SEEDED RANDOM weights "
                "(seed=%d). Features will NOT be meaningful for recognition.",
                exc,
                spec.seed,
            )
    if spec.weights in (AUTO, RANDOM):
        keras.utils.set_random_seed(spec.seed)
        model = architecture(spec.image_size, spec.input_size, None)
        _calibrate_batch_norm(model, spec.seed, spec.image_size)
        return model, RANDOM
    path = _local_weights_file(spec.weights)
    model = architecture(spec.image_size, spec.input_size, None)
    model.layers[-1].load_weights(path)
    return model, f"file:{sha256_file(path)[:16]}"


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def to_tflite(model) -> bytes:
    import tensorflow as tf

    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its whole signature
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def fallback_weights(weights: str) -> list[str]:
    """The weights names ``weights`` may resolve to besides those ``cached_weights`` tries
    first: ``auto`` falls back to ``random`` when ImageNet is not obtainable."""
    return [RANDOM] if weights == AUTO else []


def bundle(spec: ModelSpec, cached: Collection[str] = ()) -> tuple[bytes | None, str]:
    """(bytes to broadcast, weights used) for ``spec.backend``; (None, weights used) when
    those weights are among ``cached``, already converted (the conversion is skipped)."""
    model, weights_used = build_keras(spec)
    if weights_used in cached:
        return None, weights_used
    if spec.backend == "litert":
        return to_tflite(model), weights_used
    buffer = io.BytesIO()
    pickle.dump([np.asarray(w) for w in model.get_weights()], buffer, protocol=5)
    return buffer.getvalue(), weights_used


class LiteRTRunner:
    """Runs a TFLite flatbuffer with the XNNPACK delegate."""

    def __init__(self, payload: bytes, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        with native_notices_off():
            self._interpreter = Interpreter(model_content=payload, num_threads=max(1, threads))
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if images.shape[0] != self._batch:
            self._interpreter.resize_tensor_input(self._input, list(images.shape))
            with native_notices_off():
                self._interpreter.allocate_tensors()
            self._batch = images.shape[0]
        self._interpreter.set_tensor(self._input, images)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()


class KerasRunner:
    """Rebuilds the architecture and loads the broadcast weights."""

    def __init__(self, payload: bytes, image_size: int, input_size: int, threads: int):
        import tensorflow as tf

        if threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
            except RuntimeError:  # TensorFlow already started in this process: keep its pool
                pass
        self._model = architecture(image_size, input_size, None)
        self._model.set_weights(pickle.loads(payload))

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self._model(images, training=False), dtype=np.float32)


def runner(spec: ModelSpec, payload: bytes, threads: int):
    if spec.backend == "litert":
        return LiteRTRunner(payload, threads)
    return KerasRunner(payload, spec.image_size, spec.input_size, threads)


def cache_key(spec: ModelSpec, weights_used: str) -> str:
    """Name of the cached bundle: everything that changes its bytes."""
    return f"{spec.backend}-{weights_used.replace(':', '-')}-seed{spec.seed}-{spec.image_size}-{spec.input_size}"
