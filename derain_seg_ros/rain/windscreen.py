"""The windscreen as a plane in front of the camera, and the map between glass millimetres and pixels.

Camera coordinates: x right, y down, z forward (metres). The glass crosses the optical axis at
``distance_m``; its normal leans ``tilt_deg`` from the axis towards the sky, because a windscreen
is raked back (its top is closer to the camera than its bottom). Glass coordinates (u, v) in
metres: u along the camera's x, v down the slope (the way gravity pulls a drop), origin on the axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from derain_seg_ros.rain.camera import Camera


@dataclass(frozen=True)
class Windscreen:
    distance_m: float = 0.08  # along the optical axis, camera centre to glass (a camera behind the mirror)
    tilt_deg: float = 55.0  # glass normal vs optical axis (a windscreen raked ~35 deg from the horizontal)
    max_range_m: float = 1.0  # rays that meet the glass farther than this hit the dashboard, not the glass

    @cached_property
    def normal(self) -> np.ndarray:
        """Unit normal, camera -> outside (forward and up)."""
        t = math.radians(self.tilt_deg)
        return np.array([0.0, -math.sin(t), math.cos(t)])

    @cached_property
    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """(e_u, e_v): e_u = camera x, e_v = normal x e_u (down the slope, away from the camera)."""
        e_u = np.array([1.0, 0.0, 0.0])
        return e_u, np.cross(self.normal, e_u)

    @cached_property
    def origin(self) -> np.ndarray:
        return np.array([0.0, 0.0, self.distance_m])

    def glass_to_camera(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        e_u, e_v = self.axes
        return self.origin + np.asarray(u)[..., None] * e_u + np.asarray(v)[..., None] * e_v

    def rays_to_glass(self, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances along rays (..., 3) to the glass, and whether they meet it in range."""
        facing = rays @ self.normal
        offset = float(self.origin @ self.normal)
        t = offset / np.where(facing > 1e-9, facing, 1.0)
        hits = (facing > 1e-9) & (t * np.linalg.norm(rays, axis=-1) <= self.max_range_m)
        return t, hits


def pixel_rays(camera: Camera, height: int, width: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Unnormalised rays (x, y, 1) through pixel positions."""
    fx, fy, cx, cy = camera.intrinsics(height, width)
    return np.stack([(xs - cx) / fx, (ys - cy) / fy, np.ones_like(xs, dtype=np.float64)], -1)


def project(camera: Camera, height: int, width: int, points: np.ndarray) -> np.ndarray:
    """Camera-space points (..., 3) -> pixel positions (..., 2)."""
    fx, fy, cx, cy = camera.intrinsics(height, width)
    return np.stack([cx + fx * points[..., 0] / points[..., 2], cy + fy * points[..., 1] / points[..., 2]], -1)


def glass_to_pixel(
    camera: Camera, glass: Windscreen, height: int, width: int, u: np.ndarray, v: np.ndarray
) -> np.ndarray:
    return project(camera, height, width, glass.glass_to_camera(u, v))


def pixel_to_glass(
    camera: Camera, glass: Windscreen, height: int, width: int, xs: np.ndarray, ys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Glass coordinates (u, v) seen at pixels, the camera-space points, and which pixels see the glass at all."""
    rays = pixel_rays(camera, height, width, np.asarray(xs, np.float64), np.asarray(ys, np.float64))
    t, hits = glass.rays_to_glass(rays)
    points = rays * t[..., None]
    e_u, e_v = glass.axes
    rel = points - glass.origin
    return rel @ e_u, rel @ e_v, points, hits


def visible_glass(
    camera: Camera, glass: Windscreen, height: int, width: int, samples: int = 33
) -> tuple[float, float, float, float]:
    """(u0, u1, v0, v1): the glass rectangle the image sees (rays past the range are left out)."""
    xs = np.linspace(-0.5, width - 0.5, samples)
    ys = np.linspace(-0.5, height - 0.5, samples)
    gx, gy = np.meshgrid(xs, ys)
    u, v, _, hits = pixel_to_glass(camera, glass, height, width, gx, gy)
    if not hits.any():
        raise ValueError("the camera sees no windscreen: check its distance and tilt")
    return float(u[hits].min()), float(u[hits].max()), float(v[hits].min()), float(v[hits].max())
