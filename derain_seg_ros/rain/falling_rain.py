"""Falling rain as the camera records it: streaks after Garg & Nayar's photometric model.

A drop of diameter D falls at its terminal speed v(D) (Atlas et al. 1973: 9.65 - 10.3 exp(-0.6 D),
m/s, D in mm) and, seen from a moving car, also comes towards the camera; during the exposure T it
sweeps a streak. Garg & Nayar (2004, 2007): a pixel the drop crosses records

    I = (1 - alpha) * B + alpha * E_r,   alpha = tau / T,

tau the time the drop covers that pixel, E_r the drop's radiance (a drop is a wide-angle lens
that gathers light from a large part of the environment, so E_r hardly depends on the
background B). The drop's image (area a_px) swept along the streak (length L_px, width w_px)
gives alpha = a_px / (L_px w_px): small, because a drop crosses a pixel in about a millisecond
while the shutter stays open for several. Drop sizes follow Marshall & Palmer (1948):
N(D) = 8000 exp(-Lambda D) m^-3 mm^-1, Lambda = 4.1 R^-0.21 mm^-1 for a rain rate R in mm/h.
Only drops whose streaks reach ``visible_alpha`` are drawn (the rest is the veil); each depth
slab is blurred by its own thin-lens circle of confusion, so near streaks are wide and faint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from derain_seg_ros.rain.camera import Camera
from derain_seg_ros.rain.glass_drops import disc_kernel

MP_N0 = 8000.0  # Marshall-Palmer intercept, m^-3 mm^-1
MAX_DIAMETER_MM = 6.0  # larger drops break up while falling
MIN_DIAMETER_MM = 0.3  # smaller drops never make a visible streak here (and the speed law below fails under ~0.2 mm)


def terminal_speed(diameter_mm: np.ndarray | float) -> np.ndarray:
    """m/s (Atlas, Srivastava & Sekhon 1973; for 0.3 to 6 mm)."""
    return np.maximum(9.65 - 10.3 * np.exp(-0.6 * np.asarray(diameter_mm, np.float64)), 0.1)


def mp_slope(rain_mmh: float) -> float:
    """Marshall-Palmer Lambda (mm^-1)."""
    return 4.1 * max(rain_mmh, 1e-3) ** -0.21


def opacity_bound(exposure_s: float, gain: float = 1.0) -> float:
    """The largest alpha one streak can have: a drop covers a pixel for at most D / v(D) (the 6 mm drop's
    0.64 ms, Garg & Nayar's tau bound for the sizes that reach the ground), times pi / 4 for its round
    footprint, over the exposure; ``gain`` is the preset's visibility calibration."""
    d = np.linspace(MIN_DIAMETER_MM, MAX_DIAMETER_MM, 200)
    tau = float(np.max(d / 1000.0 / terminal_speed(d)))
    return min(1.0, gain * math.pi / 4 * tau / exposure_s)


@dataclass(frozen=True)
class StreakConditions:
    rain_mmh: float
    exposure_s: float = 0.008
    vehicle_speed_mps: float = 10.0
    wind_mps: float = 0.0  # lateral, + to the right
    gain: float = 1.0  # visibility calibration (see the presets in rain/car.py)
    near_m: float = 0.4  # just beyond the windscreen
    far_m: float = 25.0
    slabs: int = 6
    visible_alpha: float = 0.01  # streaks fainter than this at their slab's near edge are left to the veil
    max_streaks: int = 6000


@dataclass
class StreakStats:
    count: int = 0
    capped: bool = False
    max_alpha: float = 0.0  # of the whole layer (streaks that cross add their exposure fractions)
    max_streak_alpha: float = 0.0  # of any one streak, before the defocus spreads it


def _alpha(
    diameter_mm: np.ndarray, depth_m: np.ndarray, fx: float, length_px: np.ndarray, gain: float, exposure_s: float
) -> np.ndarray:
    """a_px / (L_px w_px), at most the time the drop takes to fall its own diameter over the exposure
    (Garg & Nayar's tau bound: where the car's motion cancels the fall in the image, a streak is short
    but the drop still crosses the pixel's line of sight that fast)."""
    d_px = fx * diameter_mm / 1000.0 / depth_m
    area = math.pi / 4 * d_px**2
    alpha = area / (np.maximum(length_px, np.maximum(d_px, 1.0)) * np.maximum(d_px, 1.0))
    tau = diameter_mm / 1000.0 / terminal_speed(diameter_mm)
    return gain * np.minimum(alpha, math.pi / 4 * tau / exposure_s)


def render_streak_opacity(
    height: int, width: int, camera: Camera, focus_m: float, cond: StreakConditions, rng: np.random.Generator
) -> tuple[np.ndarray, StreakStats]:
    """alpha_s (float32 H x W): the fraction of the exposure rain covers each pixel (before E_r is applied)."""
    fx, fy, cx, cy = camera.intrinsics(height, width)
    lam = mp_slope(cond.rain_mmh)
    edges = np.geomspace(cond.near_m, cond.far_m, cond.slabs + 1)
    half_w, half_h = (
        (width / 2 + 0.1 * width) / fx,
        (height / 2 + 0.1 * height) / fy,
    )  # tan of the half fields, with a margin
    stats = StreakStats()
    total = np.zeros((height, width), np.float32)
    grid = np.linspace(MIN_DIAMETER_MM, MAX_DIAMETER_MM, 120)
    budget = cond.max_streaks
    for z0, z1 in zip(edges[:-1], edges[1:], strict=True):
        # The smallest drop that still makes a visible streak at this slab's near edge.
        fall_px = fy * terminal_speed(grid) * cond.exposure_s / z0
        visible = _alpha(grid, np.full_like(grid, z0), fx, fall_px, cond.gain, cond.exposure_s) >= cond.visible_alpha
        if not visible.any():
            continue
        d_min = float(grid[np.argmax(visible)])
        volume = 4 * half_w * half_h * (z1**3 - z0**3) / 3
        density = MP_N0 / lam * (math.exp(-lam * d_min) - math.exp(-lam * MAX_DIAMETER_MM))  # drops per m^3
        count = int(rng.poisson(density * volume))
        if count > budget:
            count, stats.capped = budget, True
        budget -= count
        if count == 0:
            continue
        diameter = np.minimum(d_min + rng.exponential(1 / lam, count), MAX_DIAMETER_MM)
        z = (z0**3 + rng.random(count) * (z1**3 - z0**3)) ** (1 / 3)
        start = np.stack([rng.uniform(-half_w, half_w, count) * z, rng.uniform(-half_h, half_h, count) * z, z], -1)
        velocity = np.stack(
            [np.full(count, cond.wind_mps), terminal_speed(diameter), np.full(count, -cond.vehicle_speed_mps)], -1
        )
        end = start + velocity * cond.exposure_s
        end[:, 2] = np.maximum(end[:, 2], 0.5 * start[:, 2])
        p0 = np.stack([cx + fx * start[:, 0] / start[:, 2], cy + fy * start[:, 1] / start[:, 2]], -1)
        p1 = np.stack([cx + fx * end[:, 0] / end[:, 2], cy + fy * end[:, 1] / end[:, 2]], -1)
        length = np.hypot(*(p1 - p0).T)
        depth = 0.5 * (start[:, 2] + end[:, 2])
        alpha = _alpha(diameter, depth, fx, length, cond.gain, cond.exposure_s)
        stats.max_streak_alpha = max(stats.max_streak_alpha, float(alpha.max()))
        thickness = np.clip(np.rint(fx * diameter / 1000.0 / depth), 1, 8).astype(int)
        slab = np.zeros((height, width), np.float32)
        ends = (
            np.clip(np.rint(np.concatenate([p0, p1], 1) * 16), -(1 << 24), 1 << 24).astype(np.int64).tolist()
        )  # 4 fractional bits
        for a, (xa, ya, xb, yb), t in zip(alpha.tolist(), ends, thickness.tolist(), strict=True):
            cv2.line(slab, (xa, ya), (xb, yb), a, t, cv2.LINE_AA, shift=4)
        blur = 0.5 * camera.coc_px(math.sqrt(z0 * z1), focus_m, width)
        if blur >= 0.35:
            slab = cv2.filter2D(slab, -1, disc_kernel(blur), borderType=cv2.BORDER_CONSTANT)
        total = 1 - (1 - total) * (1 - slab)  # exposure fractions of independent drops combine
        stats.count += count
    stats.max_alpha = float(total.max())
    return total, stats
