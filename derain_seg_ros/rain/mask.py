"""M_gt, the one rain-mask definition: the file synthesis writes to mask/ and training reads.

The paper's definition (Guo et al. 2020, "Losses"): a pixel is rain where the BT.601 grey levels
of the rainy and the clean image, on the 0..255 scale, differ by more than 5. Drops may darken as
well as brighten, hence the absolute difference.

8-bit images put many differences exactly on the threshold (a grey pixel moved by 5 in every
channel), and float rounding would decide those at random. The BT.601 weights are exact
thousandths (0.299, 0.587, 0.114), so the difference is computed exactly, in integers, as a
number of thousandths of a grey level, and compared with ``threshold * 1000`` (in float64) by a
strict ``>``: a difference of exactly 5.000 is not rain, on every machine. (The same decisions as
float64 arithmetic rounded to 1e-4 grey levels, which is what the torch M_gt did.)
"""

from __future__ import annotations

import numpy as np

GRAY_WEIGHTS_PER_MILLE = (299, 587, 114)  # ITU-R BT.601, as OpenCV's RGB2GRAY; sums to 1000
THRESHOLD = 5.0


def gray_per_mille(rgb: np.ndarray) -> np.ndarray:
    """BT.601 grey of an H x W x 3 integer RGB image in thousandths of a grey level (int32, exact)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or not np.issubdtype(rgb.dtype, np.integer):
        raise ValueError(f"expected uint8 H x W x 3 RGB, got {rgb.dtype} {rgb.shape}")
    r, g, b = (rgb[..., k].astype(np.int32) for k in range(3))
    return GRAY_WEIGHTS_PER_MILLE[0] * r + GRAY_WEIGHTS_PER_MILLE[1] * g + GRAY_WEIGHTS_PER_MILLE[2] * b


def rain_mask(rainy_u8: np.ndarray, clean_u8: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """M_gt as uint8 0/255 (the PNG written to mask/): |gray(rainy) - gray(clean)| > threshold."""
    if rainy_u8.shape != clean_u8.shape:
        raise ValueError(f"rainy {rainy_u8.shape} and clean {clean_u8.shape} differ in shape")
    if rainy_u8.dtype != np.uint8 or clean_u8.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {rainy_u8.dtype} and {clean_u8.dtype}")
    diff = np.abs(gray_per_mille(rainy_u8) - gray_per_mille(clean_u8))
    return (diff > np.float64(threshold) * 1000.0).astype(np.uint8) * 255
