"""Class colours and the region image (class colour, confidence as lightness).

Pure colour mapping of arrays the engine computed: no model, no mathematics.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage

# Tableau-10: distinct, colour-blind friendly enough, and the same in matplotlib.
CLASS_COLORS: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def class_color(k: int) -> QColor:
    return QColor(CLASS_COLORS[int(k) % len(CLASS_COLORS)])


def class_rgb(num_classes: int) -> np.ndarray:
    """(C, 3) uint8 colours of the classes."""
    out = np.zeros((num_classes, 3), np.uint8)
    for k in range(num_classes):
        c = class_color(k)
        out[k] = (c.red(), c.green(), c.blue())
    return out


def region_rgb(predicted: np.ndarray, confidence: np.ndarray, num_classes: int) -> np.ndarray:
    """(H, W, 3) uint8 image of a decision-region grid.

    Hue is the predicted class; lightness shows the confidence (the softmax
    probability of that class): a certain prediction has the full class colour, a
    coin flip between classes is almost white.
    """
    chance = 1.0 / max(num_classes, 1)
    t = np.clip((np.asarray(confidence, np.float32) - chance) / max(1.0 - chance, 1e-6), 0.0, 1.0)
    strength = (0.12 + 0.6 * t)[..., None]
    base = class_rgb(max(num_classes, int(predicted.max()) + 1)).astype(np.float32)[predicted]
    rgb = 255.0 * (1.0 - strength) + base * strength
    return np.ascontiguousarray(rgb.astype(np.uint8))


def pattern_rgb(patterns: np.ndarray, seed: int = 7) -> np.ndarray:
    """(H, W, 3) uint8: one random pastel colour per distinct activation-pattern id."""
    ids, inverse = np.unique(patterns, return_inverse=True)
    rng = np.random.default_rng(seed)
    palette = (110 + rng.integers(0, 146, size=(len(ids), 3))).astype(np.uint8)
    return np.ascontiguousarray(palette[inverse.reshape(patterns.shape)])


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """A QImage that owns a copy of the (H, W, 3) uint8 array (row 0 at the top)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    img = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return img.copy()


def gray_to_qimage(gray: np.ndarray, signed: bool = False) -> QImage:
    """A QImage of a 2D array in [0, 1] (or [-1, 1] shown red/blue when ``signed``)."""
    g = np.asarray(gray, dtype=np.float32)
    if signed:
        pos = np.clip(g, 0, 1)
        neg = np.clip(-g, 0, 1)
        rgb = np.stack([1 - neg, 1 - pos - neg, 1 - pos], axis=-1)
        rgb = np.clip(rgb, 0, 1)
    else:
        g = np.clip(g, 0, 1)
        rgb = np.stack([g, g, g], axis=-1)
    return rgb_to_qimage((rgb * 255).astype(np.uint8))
