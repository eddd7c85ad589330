"""What leaves the pipeline for people: colour label maps and overlays."""

from __future__ import annotations

import numpy as np

from derain_seg_ros.labels import IGNORE_ID, colorize


def overlay(rgb: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend the Cityscapes colours of ``labels`` over ``rgb``; ignored pixels stay as they are."""
    if rgb.shape[:2] != labels.shape[:2]:
        raise ValueError(f"image {rgb.shape[:2]} and labels {labels.shape[:2]} differ in size")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    colour = colorize(labels).astype(np.float32)
    blended = (1 - alpha) * rgb.astype(np.float32) + alpha * colour
    out = np.where((labels == IGNORE_ID)[..., None], rgb.astype(np.float32), blended)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
