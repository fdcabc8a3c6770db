"""The embedded default source: a small synthetic Fruits-360-like tree of real JPEGs.

Each class is a fruit-like blob of its own hue and shape on a white background,
100x100 like Fruits-360, drawn from a fixed seed so the bytes are reproducible.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

CLASSES = {
    "Synthetic Apple Red": ((200, 30, 40), 0.95),
    "Synthetic Banana": ((235, 205, 60), 0.45),
    "Synthetic Lime": ((90, 180, 50), 0.9),
    "Synthetic Plum": ((100, 40, 110), 0.8),
}
TRAINING_PER_CLASS = 24
TEST_PER_CLASS = 6
SIZE = 100


def _image(rng: random.Random, colour: tuple[int, int, int], roundness: float) -> bytes:
    im = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    draw = ImageDraw.Draw(im)
    radius = rng.uniform(30, 44)
    cx, cy = SIZE / 2 + rng.uniform(-6, 6), SIZE / 2 + rng.uniform(-6, 6)
    rx, ry = radius, radius * roundness
    shade = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in colour)
    draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=shade)
    highlight = tuple(min(255, c + 60) for c in shade)
    draw.ellipse([cx - rx / 2, cy - ry / 2, cx - rx / 6, cy - ry / 6], fill=highlight)
    im = im.rotate(rng.uniform(0, 360), fillcolor=(255, 255, 255)).filter(ImageFilter.GaussianBlur(1))
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def generate(target: Path, seed: int = 360) -> Path:
    """Write the sample tree under ``target`` (idempotent) and return it."""
    rng = random.Random(seed)
    for label, (colour, roundness) in CLASSES.items():
        for split, count in (("Training", TRAINING_PER_CLASS), ("Test", TEST_PER_CLASS)):
            folder = target / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                data = _image(rng, colour, roundness)
                path = folder / f"{i}_100.jpg"
                if not path.exists() or path.read_bytes() != data:
                    path.write_bytes(data)
    return target


def image_count() -> int:
    return len(CLASSES) * (TRAINING_PER_CLASS + TEST_PER_CLASS)
