"""Where jobs run (Spark runtimes), where data lives (lake, source, IO manager), the model."""

from .emr import EmrSpark
from .io_manager import LakeIOManager
from .lake import LakeResource
from .model import MobileNetResource
from .source import FruitSource, SourceError
from .spark import LocalSpark, SparkRuntime

__all__ = [
    "EmrSpark",
    "FruitSource",
    "LakeIOManager",
    "LakeResource",
    "LocalSpark",
    "MobileNetResource",
    "SourceError",
    "SparkRuntime",
]
