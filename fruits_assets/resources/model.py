"""The feature-extractor configuration handed to the featurize job, and its converted network."""


from dataclasses import replace

from dagster import ConfigurableResource

from ..spark_jobs.featurize import bundle_key
from ..spark_jobs.mobilenet import ModelSpec, bundle, cached_weights
from .lake import LakeResource


class MobileNetResource(ConfigurableResource):
    """MobileNetV2 settings: weights (auto | imagenet | random | file), backend
    (litert | keras), decoded image size, network input size, seed, batch, threads."""

    weights: str = "auto"
    backend: str = "litert"
    image_size: int = 100
    input_size: int = 224
    seed: int = 0
    batch_size: int = 0  # 0: the backend's best (mobilenet.BEST_BATCH)
    threads: int = 0

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

    def converted(self, lake: LakeResource) -> bytes:
        """The converted network in the lake's model cache (what the workers receive)."""
        spec = self.spec()
        store = lake.store()
        for weights in cached_weights(spec.weights):
            if store.exists(bundle_key(spec, weights)):
                return store.read_bytes(bundle_key(spec, weights))
        raise LookupError(f"mobilenet_v2 ({spec.backend}, weights {spec.weights}) has not been materialized yet.")

    def prepare(self, lake: LakeResource) -> ModelSpec:
        """The spec with its weights resolved (``auto`` -> imagenet or random, a file ->
        ``file:<sha>``) and its converted network in the lake's model cache, built here if
        absent: the Spark job then only reads it, so EMR nodes need no TensorFlow."""
        spec = self.spec()
        store = lake.store()
        for weights in cached_weights(spec.weights):
            if store.exists(bundle_key(spec, weights)):
                return replace(spec, weights=weights)
        payload, weights_used = bundle(spec)
        store.write_bytes(bundle_key(spec, weights_used), payload)
        return replace(spec, weights=weights_used)
