"""The veil: what heavy rain mostly looks like through a car's camera.

Two parts, both lowering contrast:
- the atmosphere (the rain-accumulation / haze term of Yang et al. 2017 and DID-MDN,
  O = t B + (1 - t) A): transmission t = exp(-sigma d) over a depth d, airlight A. Frames come
  without depth (below). sigma grows with the rain
  rate (meteorological visibility ~3/sigma: ~8 km in light, ~3 km in moderate, ~1 km in heavy rain).
  Frames come without depth, so d is a flat-road prior: the road below the horizon (camera at
  ``camera_height_m``, horizon at the principal point's row), ``max_depth_m`` at and above it. It
  hazes the sky and the far road right and a near building above the horizon too much (a street
  wall prior made a visible band on open roads, so it was dropped).
- the wet windscreen: the film and the drops too small to see scatter a fraction h of the light
  into a wide halo (a blur of the whole frame), which washes out contrast and spreads light from
  bright sources (glare); an optional extra bloom around highlights stands in for sources brighter
  than an 8-bit pixel can say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from derain_seg_ros.rain.camera import Camera


@dataclass(frozen=True)
class VeilParams:
    extinction_per_km: float  # sigma
    scatter: float  # h, fraction of light the wet glass spreads into the halo
    glare: float = 0.0  # weight of the extra bloom around highlights (0: off)
    max_depth_m: float = 200.0
    camera_height_m: float = 1.4
    scatter_sigma_frac: float = 0.02  # halo width (Gaussian sigma), fraction of the image width
    highlight: float = 0.85  # luminance above which a pixel is a light source for the glare

    @classmethod
    def for_rain(cls, rain_mmh: float, glare: bool = True) -> VeilParams:
        """The veil of a rain rate: extinction 0.2 R^0.75 per km, wet-glass scatter 0.25 (1 - exp(-R / 25))."""
        scatter = 0.25 * (1 - math.exp(-max(rain_mmh, 0.0) / 25.0))
        return cls(0.2 * max(rain_mmh, 0.0) ** 0.75, scatter, 1.5 * scatter if glare else 0.0)


def depth_prior(height: int, width: int, camera: Camera, p: VeilParams) -> np.ndarray:
    """Depth per row (H x 1, metres) of a flat road seen from ``camera_height_m``; the horizon and above: ``max_depth_m``."""
    _, fy, _, cy = camera.intrinsics(height, width)
    below = np.arange(height, dtype=np.float64)[:, None] - cy
    return np.where(
        below > 0, np.minimum(p.camera_height_m * fy / np.maximum(below, 1e-6), p.max_depth_m), p.max_depth_m
    )


def airlight(image: np.ndarray) -> np.ndarray:
    """The rain's airlight: a bright neutral grey from the upper part of the frame (the sky, when there is one)."""
    top = image[: max(1, image.shape[0] // 3) : 4, ::4]  # every 4th pixel: plenty for a mean and a percentile
    lum = cv2.cvtColor(np.ascontiguousarray(top), cv2.COLOR_RGB2GRAY)
    level = float(np.clip(0.5 * lum.mean() + 0.5 * np.percentile(lum, 90), 0.45, 0.95))
    return np.full(3, level, np.float32)


def _factor(sigma_px: float) -> int:
    """How much smaller a Gaussian of ``sigma_px`` can be taken: it stays >= 4 px there (the halo is smooth by nature)."""
    return int(max(1, min(8, sigma_px // 4)))


def atmosphere(image: np.ndarray, camera: Camera, p: VeilParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """t B + (1 - t) A on a float32 image in [0, 1]; returns it, t (H x 1) and A."""
    h, w = image.shape[:2]
    t = np.exp(-p.extinction_per_km / 1000.0 * depth_prior(h, w, camera, p)).astype(np.float32)
    a = airlight(image)
    return t[..., None] * image + (1 - t[..., None]) * a, t, a


def wet_glass(image: np.ndarray, p: VeilParams) -> np.ndarray:
    """(1 - h) X + halo(h X + g highlights(X)): the light the wet glass scatters, and the glare of bright sources.

    One halo carries both, and it is built at reduced resolution (the one wide blur per frame is
    the cost that matters at 2048 wide).
    """
    if p.scatter <= 0 and p.glare <= 0:
        return image
    h, w = image.shape[:2]
    sigma = p.scatter_sigma_frac * w
    factor = _factor(sigma)
    size = (max(1, w // factor), max(1, h // factor))
    source = cv2.resize(image, size, interpolation=cv2.INTER_AREA) * np.float32(p.scatter)
    if p.glare > 0:
        lum = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        hot = np.clip((lum - p.highlight) * np.float32(1 / (1 - p.highlight)), 0, 1)
        if hot.any():  # the highlights are thresholded at full resolution, so small bright sources glare too
            source += cv2.resize(hot[..., None] * image, size, interpolation=cv2.INTER_AREA) * np.float32(p.glare)
    halo = cv2.GaussianBlur(source, (0, 0), max(sigma / factor, 0.5), borderType=cv2.BORDER_REFLECT_101)
    halo = cv2.resize(halo, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.scaleAdd(image, 1 - p.scatter, halo)
