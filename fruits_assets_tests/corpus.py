"""A source tree of every kind of bad or odd input, next to real sample images."""

import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

ODD_CLASS = "Odd Inputs"
EMPTY_CLASS = "Empty Class"
REAL_CLASS = "Apple 6"

# file name -> rejection reason (None: a valid image that must be featurized)
EXPECTED = {
    "corrupt_bytes.jpg": "not_an_image",
    "corrupt_body.jpg": "corrupt",
    "truncated.jpg": "truncated",
    "zero_bytes.jpg": "empty_file",
    "text_named.jpg": "not_an_image",
    "alpha.png": None,
    "grayscale.jpg": None,
    "cmyk.jpg": None,
    "sixteen_bit.png": None,
    "one_pixel.png": "too_small",
    "very_large.jpg": None,
    "bomb.png": "decompression_bomb",
    "exif_rotated.jpg": None,
    "UPPER.JPG": None,
    "long_ext.jpeg": None,
    "plain.png": None,
    ".DS_Store": "hidden_file",
    "notes.txt": "unsupported_extension",
    "duplicate.jpg": "duplicate",
}


def _encode(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _photo(real: bytes, mode: str = "RGB") -> Image.Image:
    return Image.open(io.BytesIO(real)).convert(mode)


def build(sample: Path, target: Path) -> Path:
    """Copy one real class, and write the odd class and an empty class, under ``target``."""
    for split in ("Training", "Test"):
        shutil.copytree(sample / split / REAL_CLASS, target / split / REAL_CLASS)
    (target / "Training" / EMPTY_CLASS).mkdir(parents=True)
    odd = target / "Training" / ODD_CLASS
    odd.mkdir(parents=True)
    real_path = sorted((sample / "Training" / REAL_CLASS).iterdir())[0]
    real = real_path.read_bytes()
    rng = np.random.default_rng(0)
    scan = real.index(b"\xff\xda") + 20  # headers intact, entropy-coded data garbled
    rgba = _photo(real, "RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    rotated = _photo(real).resize((100, 60))
    exif = Image.Exif()
    exif[0x0112] = 6
    deep = Image.fromarray((np.asarray(_photo(real, "L"), dtype=np.uint16) * 257))
    files = {
        "corrupt_bytes.jpg": rng.integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        "corrupt_body.jpg": real[:scan] + rng.integers(0, 256, len(real) - scan, dtype=np.uint8).tobytes(),
        "truncated.jpg": real[: len(real) // 2],
        "zero_bytes.jpg": b"",
        "text_named.jpg": b"this is not a picture of a fruit\n" * 20,
        "alpha.png": _encode(rgba, "PNG"),
        "grayscale.jpg": _encode(_photo(real, "L"), "JPEG"),
        "cmyk.jpg": _encode(_photo(real, "CMYK"), "JPEG"),
        "sixteen_bit.png": _encode(deep, "PNG"),
        "one_pixel.png": _encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"),
        "very_large.jpg": _encode(_photo(real).resize((6000, 6000)), "JPEG", quality=70),
        "bomb.png": _encode(Image.new("1", (12000, 12000)), "PNG"),
        "exif_rotated.jpg": _encode(rotated, "JPEG", exif=exif),
        "UPPER.JPG": real,
        "long_ext.jpeg": _encode(_photo(real).rotate(90), "JPEG"),
        "plain.png": _encode(_photo(real), "PNG"),
        ".DS_Store": b"\x00\x00\x00\x01Bud1" + b"\x00" * 100,
        "notes.txt": b"picked on a Tuesday\n",
    }
    for name, data in files.items():
        (odd / name).write_bytes(data)
    # byte-identical to UPPER.JPG: the first by path is kept, this one rejected
    (odd / "duplicate.jpg").write_bytes(real)
    return target


def tiny_source(target: Path) -> Path:
    """Two synthetic classes of 3 Training and 1 Test images, and one file to reject
    (``notes.txt``): the source of ``fixtures/versioned_lake``, byte for byte."""
    import random

    from fruits_assets import sample

    rng = random.Random(7)
    for label, (colour, roundness) in list(sample.CLASSES.items())[:2]:
        for split, count in (("Training", 3), ("Test", 1)):
            folder = target / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                (folder / f"{i}_100.jpg").write_bytes(sample._image(rng, colour, roundness))
    (target / "Training" / "Synthetic Apple Red" / "notes.txt").write_text("picked on a Tuesday\n")
    return target


ODD_NAMES = ["Apple, Red", "Pear 'Williams'", "Pêche  de vigne", "Mango " + "very long name " * 7 + "end"]


def many_classes(target: Path, count: int, per_class: int = 4, odd: list[str] = ()) -> list[str]:
    """``count`` synthetic classes (``Class 000`` ...) of ``per_class`` small photos each
    (one in Test, the others in Training), the names of ``odd`` among them; their names."""
    import random

    from fruits_assets import sample

    names = [*odd, *(f"Class {i:03d}" for i in range(count - len(odd)))]
    styles = list(sample.CLASSES.values())
    for n, name in enumerate(names):
        rng = random.Random(n)
        colour, roundness = styles[n % len(styles)]
        colour = tuple((c + 37 * n) % 256 for c in colour)
        for i in range(per_class):
            folder = target / ("Test" if i == 0 else "Training") / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}_100.jpg").write_bytes(sample._image(rng, colour, roundness))
    return sorted(names)
