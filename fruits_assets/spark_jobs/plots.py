"""PNG pictures a person wants to look at: thumbnails, scree plot, 2-D scatter."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from PIL import Image

from .images import decode

THUMBNAIL = 64
THUMBNAILS_PER_CLASS = 6
LABELLED_CLASSES = 40  # the confusion picture names its classes up to this many


def thumbnail_strip(contents: list[bytes]) -> bytes:
    """A row of ``THUMBNAIL``-pixel squares, one per image."""
    strip = Image.new("RGB", (THUMBNAIL * max(1, len(contents)), THUMBNAIL), "white")
    for i, content in enumerate(contents):
        strip.paste(Image.fromarray(decode(content, THUMBNAIL)), (i * THUMBNAIL, 0))
    return _png(strip)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _figure_png(figure: Figure) -> bytes:
    """The PNG of a figure drawn without pyplot (no global backend, nothing to close)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()


def scree(explained: list[float], spectrum: list[float], k: int, target: float | None) -> bytes:
    """Explained variance per component (first 100) and its cumulative curve, k marked."""
    shown = np.asarray(spectrum[:100])
    figure = Figure(figsize=(7, 3.5))
    left = figure.subplots()
    left.bar(np.arange(1, len(shown) + 1), shown, color="#8fb3d9", label="explained variance")
    left.set_xlabel("component")
    left.set_ylabel("explained variance ratio")
    right = left.twinx()
    right.plot(np.arange(1, len(shown) + 1), np.cumsum(shown), color="#c0392b", label="cumulative")
    right.set_ylim(0, 1.02)
    right.set_ylabel("cumulative")
    right.axvline(k, color="black", linestyle="--", linewidth=1)
    if target is not None:
        right.axhline(target, color="grey", linestyle=":", linewidth=1)
    reached = float(np.sum(explained))
    left.set_title(f"PCA: k = {k} components explain {reached:.1%} of the variance")
    return _figure_png(figure)


def scatter(points: pd.DataFrame) -> bytes:
    """pc_1 against pc_2, one colour per class (``points``: label, pc_1, pc_2)."""
    figure = Figure(figsize=(7, 5))
    axes = figure.subplots()
    labels = sorted(points["label"].unique())
    colours = colormaps["tab20"].resampled(max(len(labels), 1))
    for i, label in enumerate(labels):
        mine = points[points["label"] == label]
        axes.scatter(mine["pc_1"], mine["pc_2"], s=8, color=colours(i), label=label)
    axes.set_xlabel("pc_1")
    axes.set_ylabel("pc_2")
    axes.set_title(f"First two principal components ({len(points)} images, {len(labels)} classes)")
    if len(labels) <= 30:
        axes.legend(fontsize=6, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _figure_png(figure)


def confusion(counts: list[list[int]], classes: list[str], accuracy: float, evaluation: str) -> bytes:
    """Evaluated images (``evaluation``: the Test split, or a hold-out) by true class
    (rows) and predicted class (columns). Beyond
    ``LABELLED_CLASSES`` the picture stops growing and drops the class names: the
    per-class table names them, and a picture sized to 100+ classes took about 50 MB
    to draw."""
    matrix = np.asarray(counts)
    size = max(4.0, 0.28 * min(len(classes), LABELLED_CLASSES) + 2)
    figure = Figure(figsize=(size + 1, size))
    axes = figure.subplots()
    shown = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.04, label="images")
    if len(classes) <= LABELLED_CLASSES:
        axes.set_xticks(range(len(classes)), classes, rotation=90, fontsize=6)
        axes.set_yticks(range(len(classes)), classes, fontsize=6)
    named = "" if len(classes) <= LABELLED_CLASSES else " (index in the per-class table)"
    axes.set_xlabel(f"predicted class{named}")
    axes.set_ylabel(f"true class{named}")
    axes.set_title(f"Confusion, {evaluation} (accuracy {accuracy:.1%})")
    return _figure_png(figure)
