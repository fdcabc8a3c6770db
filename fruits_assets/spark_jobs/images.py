"""Decoding and validating image files, as the Python workers do it.

``inspect`` decides whether a file is a usable image (and why not); ``decode``
turns the bytes of a usable image into an RGB uint8 array of a fixed size,
applying the EXIF orientation and flattening alpha onto white.
"""

from __future__ import annotations

import io
import posixpath
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb threshold
DEFAULT_MIN_SIDE = 8

ImageFile.LOAD_TRUNCATED_IMAGES = False


def reason_for_name(path: str) -> str | None:
    """Rejection reason decided by the file name alone, or None."""
    name = posixpath.basename(path)
    if name.startswith((".", "_")):
        return "hidden_file"
    if not name.lower().endswith(IMAGE_EXTENSIONS):
        return "unsupported_extension"
    return None


def inspect(
    path: str,
    content: bytes,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = DEFAULT_MIN_SIDE,
) -> tuple[int | None, int | None, str | None]:
    """(width, height, None) for a usable image, else (None, None, reason).

    The image is fully decoded, so truncated and corrupt files are caught here rather
    than during featurization. A JPEG is decoded at its smallest DCT scale (1/8): every
    coefficient is still read, while the inverse DCT, upsampling and colour conversion
    shrink 64-fold (84 against 140 us for a 100x100 image).
    """
    reason = reason_for_name(path)
    if reason:
        return None, None, reason
    if not content:
        return None, None, "empty_file"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as im:
                width, height = im.size
                if width * height > max_pixels:
                    return None, None, "decompression_bomb"
                if _orientation(im) in _SWAPS_SIDES:
                    width, height = height, width
                im.draft("RGB", (1, 1))
                im.load()
    except UnidentifiedImageError:
        return None, None, "not_an_image"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, None, "decompression_bomb"
    except (OSError, SyntaxError, ValueError) as exc:
        return None, None, "truncated" if "truncated" in str(exc).lower() else "corrupt"
    if width < min_side or height < min_side:
        return None, None, "too_small"
    return width, height, None


_ORIENTATION_TAG = 0x0112
_SWAPS_SIDES = (5, 6, 7, 8)


def _orientation(im: Image.Image) -> int:
    return im.getexif().get(_ORIENTATION_TAG, 1)


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(im, dtype=np.uint32)
        scale = 257 if wide.max(initial=0) > 255 else 1
        return Image.fromarray((wide // scale).astype(np.uint8)).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def decode(content: bytes, size: int) -> np.ndarray:
    """RGB uint8 array of shape (size, size, 3), orientation applied."""
    with Image.open(io.BytesIO(content)) as im:
        if im.size != (size, size):
            im.draft("RGB", (size, size))
        if _orientation(im) != 1:
            im = ImageOps.exif_transpose(im)
        im = _to_rgb(im)
        if im.size != (size, size):
            im = im.resize((size, size), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)
