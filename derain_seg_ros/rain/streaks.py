"""Rain streaks, the layer S: motion-blurred sparse noise (after DID-MDN's density classes)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

PRESETS: dict[str, tuple[float, float, float]] = {
    # density (fraction of seed pixels), length (fraction of image width), intensity
    "light": (0.0015, 0.015, 0.30),
    "medium": (0.004, 0.03, 0.45),
    "heavy": (0.010, 0.05, 0.65),
}


@dataclass(frozen=True)
class StreakParams:
    density: float = 0.004
    length_frac: float = 0.03
    intensity: float = 0.45
    angles_deg: tuple[float, ...] = (10.0,)  # from vertical, positive leans right going down
    blur_sigma: float = 0.6

    @classmethod
    def preset(cls, name: str, rng: np.random.Generator | None = None) -> StreakParams:
        """A density class; with ``rng`` the angle and the numbers vary a little around it."""
        if name not in PRESETS:
            raise ValueError(f"unknown streak density {name!r}; choose one of {sorted(PRESETS)}")
        density, length, intensity = PRESETS[name]
        params = cls(density, length, intensity)
        if rng is not None:
            angle = float(rng.uniform(-25, 25))
            layers = (angle,) if rng.random() < 0.7 else (angle, angle + float(rng.uniform(-15, 15)))
            params = replace(params, angles_deg=layers, density=density * float(rng.uniform(0.8, 1.25)))
        return params


def line_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A 1-px line of ``length`` through the kernel centre, ``angle_deg`` from vertical."""
    size = length if length % 2 else length + 1
    kernel = np.zeros((size, size), np.float32)
    c, a = (size - 1) / 2, np.deg2rad(angle_deg)
    dx, dy = np.sin(a) * (length - 1) / 2, np.cos(a) * (length - 1) / 2
    ends = [(int(round((c + sx * dx) * 16)), int(round((c + sx * dy) * 16))) for sx in (-1, 1)]  # sub-pixel ends
    cv2.line(kernel, ends[0], ends[1], 1.0, 1, cv2.LINE_AA, shift=4)
    return kernel / kernel.max()


def render_streaks(height: int, width: int, params: StreakParams, rng: np.random.Generator) -> np.ndarray:
    """float32 H x W in [0, 1]: added to every channel of the clean image."""
    length = max(3, int(round(params.length_frac * width)))
    layer = np.zeros((height, width), np.float32)
    for angle in params.angles_deg:
        seeds = (rng.random((height, width)) < params.density / len(params.angles_deg)).astype(np.float32)
        seeds *= rng.uniform(0.5, 1.0, (height, width)).astype(np.float32)
        layer += cv2.filter2D(seeds, -1, line_kernel(length, angle), borderType=cv2.BORDER_CONSTANT)
    if params.blur_sigma > 0:
        layer = cv2.GaussianBlur(layer, (0, 0), params.blur_sigma)
    return np.clip(layer * params.intensity, 0, 1)
