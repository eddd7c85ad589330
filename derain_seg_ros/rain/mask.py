"""M_gt, the one rain-mask definition: the file synthesis writes to mask/ and training reads.

The paper's definition (Guo et al. 2020, "Losses"): a pixel is rain where the BT.601 grey levels
of the rainy and the clean image, on the 0..255 scale, differ by more than 5. Drops may darken as
well as brighten, hence the absolute difference.

8-bit images put many differences exactly on the threshold (a grey pixel moved by 5 in every
channel), and float rounding would decide those at random. The BT.601 weights are exact
thousandths (0.299, 0.587, 0.114), so the difference is computed exactly as an integer number of
thousandths of a grey level, held in float64 (exact for every 8-bit input), and compared with
``threshold * 1000`` by a strict ``>``: a difference of exactly 5.000 is not rain, on every machine.
"""

from __future__ import annotations

import numpy as np

GRAY_WEIGHTS_PER_MILLE = (299, 587, 114)  # ITU-R BT.601, as OpenCV's RGB2GRAY; sums to 1000
THRESHOLD = 5.0


def gray_per_mille(rgb_u8: np.ndarray) -> np.ndarray:
    """BT.601 grey of an H x W x 3 uint8 RGB image in thousandths of a grey level (float64, exact)."""
    if rgb_u8.dtype != np.uint8 or rgb_u8.ndim != 3 or rgb_u8.shape[2] != 3:
        raise ValueError(f"expected uint8 H x W x 3 RGB, got {rgb_u8.dtype} {rgb_u8.shape}")
    weights = np.asarray(GRAY_WEIGHTS_PER_MILLE, np.float64)
    return rgb_u8.astype(np.float64) @ weights


def rain_mask(rainy_u8: np.ndarray, clean_u8: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """M_gt as uint8 0/255 (the PNG written to mask/): |gray(rainy) - gray(clean)| > threshold."""
    if rainy_u8.shape != clean_u8.shape:
        raise ValueError(f"rainy {rainy_u8.shape} and clean {clean_u8.shape} differ in shape")
    diff = np.abs(gray_per_mille(rainy_u8) - gray_per_mille(clean_u8))
    return (diff > threshold * 1000.0).astype(np.uint8) * 255
