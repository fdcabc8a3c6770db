"""The pictures shown in the UI's metadata."""

import io

import numpy as np
import pytest
from PIL import Image

from fruits_assets.spark_jobs import plots


def _confusion_size(classes: int) -> tuple[int, int]:
    counts = (np.eye(classes, dtype=int) * 5 + 1).tolist()
    png = plots.confusion(counts, [f"class {i}" for i in range(classes)], accuracy=0.8, evaluation="test split")
    return Image.open(io.BytesIO(png)).size


pytestmark = pytest.mark.fast


def test_the_confusion_picture_grows_with_the_classes_it_names_then_stops():
    few, labelled, many = (_confusion_size(n) for n in (5, plots.LABELLED_CLASSES, 200))
    assert few[0] < labelled[0], "up to LABELLED_CLASSES, each class gets its own named row"
    assert many[0] <= labelled[0] and many[1] <= labelled[1], "beyond it, the picture (and its memory) stays bounded"
