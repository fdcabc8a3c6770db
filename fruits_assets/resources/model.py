"""The feature-extractor configuration handed to the featurize job."""


from dagster import ConfigurableResource

from ..spark_jobs.mobilenet import ModelSpec


class MobileNetResource(ConfigurableResource):
    """MobileNetV2 settings: weights (auto | imagenet | random | file), backend
    (litert | keras), decoded image size, network input size, seed, batch, threads."""

    weights: str = "auto"
    backend: str = "litert"
    image_size: int = 100
    input_size: int = 224
    seed: int = 0
    batch_size: int = 64
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
