"""Drop outlines on the glass: circles, egg shapes and closed Bézier curves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Shape = Literal["circle", "egg", "bezier"]


@dataclass(frozen=True)
class Drop:
    x: float  # centre (legacy renderer: pixels; car renderer: metres on the glass, u)
    y: float  # (car renderer: v, down the slope)
    radius: float  # equivalent radius, same unit: area = pi radius^2 for every shape
    shape: Shape = "circle"
    shape_seed: int = 0
    stretch: float = 1.0  # > 1: elongated downwards (sliding drops)

    @property
    def area(self) -> float:
        return float(np.pi * self.radius**2)


def _closed_bezier(points: np.ndarray, samples_per_segment: int = 12) -> np.ndarray:
    """Closed piecewise cubic Bézier through ``points`` (Catmull-Rom tangents), sampled."""
    n = len(points)
    t = np.linspace(0, 1, samples_per_segment, endpoint=False)[:, None]
    out = []
    for i in range(n):
        p0, p3 = points[i], points[(i + 1) % n]
        p1 = p0 + (points[(i + 1) % n] - points[i - 1]) / 6
        p2 = p3 - (points[(i + 2) % n] - points[i]) / 6
        out.append((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3)
    return np.concatenate(out)


def drop_polygon(drop: Drop, vertices: int = 48) -> np.ndarray:
    """Outline in pixel coordinates (N x 2, x then y), scaled so its area matches ``drop.area``."""
    theta = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    if drop.shape == "circle":
        unit = np.stack([np.cos(theta), np.sin(theta)], -1)
    elif drop.shape == "egg":
        r = 1 + 0.25 * np.sin(theta)  # image y down: the bulge hangs at the bottom
        unit = np.stack([np.cos(theta) * r, np.sin(theta) * r], -1)
    elif drop.shape == "bezier":
        rng = np.random.default_rng(drop.shape_seed)
        k = int(rng.integers(5, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        radii = rng.uniform(0.7, 1.25, k)
        unit = _closed_bezier(np.stack([np.cos(angles) * radii, np.sin(angles) * radii], -1))
    else:
        raise ValueError(f"unknown drop shape {drop.shape!r}")
    unit = unit * np.array([1.0, drop.stretch])
    x, y = unit[:, 0], unit[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    return unit * (drop.radius / np.sqrt(area / np.pi)) + np.array([drop.x, drop.y])
