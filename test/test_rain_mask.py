"""M_gt, the one rain-mask definition: |gray601(rainy) - gray601(clean)| > 5, ties decided the same way everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from derain_seg_ros.rain.mask import rain_mask


def _pixel(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.array(rgb, np.uint8).reshape(1, 1, 3)


@pytest.mark.parametrize(
    "clean, rainy, is_rain",
    [
        ((100, 100, 100), (105, 105, 105), False),  # exactly 5 grey levels: a tie, not rain
        ((100, 100, 100), (106, 106, 106), True),
        ((100, 100, 100), (94, 94, 94), True),  # drops darken as well as brighten
        ((100, 100, 100), (95, 95, 95), False),
        ((100, 100, 100), (117, 100, 100), True),  # 0.299 * 17 = 5.083
        ((100, 100, 100), (116, 100, 100), False),  # 0.299 * 16 = 4.784
        ((0, 0, 0), (0, 0, 44), True),  # 0.114 * 44 = 5.016
        ((0, 0, 0), (0, 0, 43), False),  # 4.902
        ((10, 20, 30), (15, 25, 35), False),  # +5 everywhere: again exactly 5
    ],
)
def test_rain_mask_is_bt601_grey_difference_above_five(clean, rainy, is_rain) -> None:
    assert rain_mask(_pixel(rainy), _pixel(clean))[0, 0] == (255 if is_rain else 0)


def test_rain_mask_agrees_with_a_float64_reference_off_the_ties() -> None:
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    rainy = np.clip(clean.astype(int) + rng.integers(-12, 13, clean.shape), 0, 255).astype(np.uint8)
    clean[::7] = np.minimum(clean[::7], 250)
    rainy[::7] = clean[::7] + 5  # every 7th row a grey shift of exactly 5: ties
    reference = np.abs((rainy.astype(np.float64) - clean) @ np.array([0.299, 0.587, 0.114]))
    off_ties = np.abs(reference - 5.0) > 1e-6
    mask = rain_mask(rainy, clean)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    assert np.array_equal((mask > 0)[off_ties], (reference > 5.0)[off_ties])
    assert off_ties.mean() < 1 and not mask[~off_ties].any()  # ties occur, and are never rain


def test_rain_mask_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="shape"):
        rain_mask(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        rain_mask(np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 3), np.float32))
