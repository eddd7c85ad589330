"""I_r = (1 - M) ⊙ I_gt + R + S: the composition model of Raindrop-Cityscapes."""

from __future__ import annotations

import numpy as np


def compose(clean: np.ndarray, drop_mask: np.ndarray, drop_layer: np.ndarray, streak_layer: np.ndarray) -> np.ndarray:
    """clean uint8 H x W x 3; M bool H x W; R float H x W x 3 in [0, 1]; S float H x W in [0, 1]."""
    if clean.dtype != np.uint8 or clean.ndim != 3:
        raise ValueError(f"clean must be uint8 H x W x 3, got {clean.dtype} {clean.shape}")
    keep = (~drop_mask.astype(bool)).astype(np.float32)[..., None]
    rainy = keep * clean.astype(np.float32) + 255.0 * drop_layer + 255.0 * streak_layer[..., None]
    return np.clip(np.rint(rainy), 0, 255).astype(np.uint8)
