"""Raindrops on the windscreen: the drop map M and the drops' appearance R, ray-traced.

Each drop is a water cap on a tilted glass plane in front of the camera. A camera ray crosses the
thin glass into the water (air -> water refraction at the flat base), leaves through the curved
surface (water -> air, or total internal reflection: dark), and hits a background plane; the
colour there, projected back into the clean image, is what the drop shows. The curved surface
is a lens, so the view inside a drop comes out flipped and squeezed from a wide field. Drops are
thin next to their distance, so the exit point is taken at the entry point (the thin-lens
approximation). The glass is out of focus: the drop layer gets a disc (defocus) blur.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from derain_seg_ros.rain.drop_shapes import Drop, drop_polygon

N_WATER = 1.333
MIN_LIGHT = 1e-3  # R is transmitted light: never exactly zero inside a drop, so M == (R > 0)


@dataclass(frozen=True)
class DropOptics:
    focal_frac: float = 0.6  # focal length as a fraction of image width (Cityscapes: ~0.55)
    glass_distance_m: float = 0.25  # along the optical axis
    glass_tilt_deg: float = 30.0  # rotation of the glass about the camera's x axis
    background_m: float = 15.0  # distance of the plane the refracted rays hit
    contact_angle_deg: float = 60.0
    refractive_index: float = N_WATER
    defocus_px_frac: float = 0.0015  # disc blur radius as a fraction of image width
    rim_darkening: float = 0.35
    transmission: float = 0.92


def _refract(d: np.ndarray, normal: np.ndarray, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """Snell's law for unit rays ``d`` (..., 3) at unit normals facing against them; returns (t, tir)."""
    cos_i = -np.sum(normal * d, axis=-1, keepdims=True)
    k = 1 - eta**2 * (1 - cos_i**2)
    tir = k[..., 0] < 0
    t = eta * d + (eta * cos_i - np.sqrt(np.clip(k, 0, None))) * normal
    return t / np.linalg.norm(t, axis=-1, keepdims=True), tir


def _trace_drop(
    clean_f: np.ndarray,
    drop: Drop,
    optics: DropOptics,
    box: tuple[int, int, int, int],
    inside: np.ndarray,
    rho: np.ndarray,
    radial: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Colours seen through one drop within its bounding box, and where total internal reflection occurs."""
    h, w = clean_f.shape[:2]
    f, cx, cy = optics.focal_frac * w, (w - 1) / 2, (h - 1) / 2
    x0, y0, x1, y1 = box
    vv, uu = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    rays = np.stack([(uu - cx) / f, (vv - cy) / f, np.ones_like(uu)], -1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    tilt = np.deg2rad(optics.glass_tilt_deg)
    n_cam = np.array([0.0, np.sin(tilt), -np.cos(tilt)])  # glass normal, facing the camera
    e_u = np.array([1.0, 0.0, 0.0])
    e_v = np.cross(n_cam, e_u)
    e_v *= np.sign(e_v[1]) or 1.0  # image v runs down = camera +y
    t_hit = optics.glass_distance_m * (-n_cam[2]) / np.sum(rays * -n_cam, axis=-1)
    entry = rays * t_hit[..., None]
    in_water, _ = _refract(rays, n_cam, 1 / optics.refractive_index)
    # Cap surface slope at normalised radius rho (1 at the rim, where it equals tan(contact angle)).
    sin_c = np.sin(np.deg2rad(optics.contact_angle_deg))
    slope = rho / np.sqrt(np.clip(1 / sin_c**2 - rho**2, 1e-9, None))
    outward = radial[..., :1] * e_u + radial[..., 1:] * e_v
    surface = -n_cam + slope[..., None] * outward
    surface /= np.linalg.norm(surface, axis=-1, keepdims=True)
    out, tir = _refract(in_water, -surface, optics.refractive_index)
    forward = out[..., 2] > 1e-6
    t_bg = (optics.background_m - entry[..., 2]) / np.where(forward, out[..., 2], 1.0)
    hit = entry + out * t_bg[..., None]
    map_u = (cx + f * hit[..., 0] / hit[..., 2]).astype(np.float32)
    map_v = (cy + f * hit[..., 1] / hit[..., 2]).astype(np.float32)
    seen = cv2.remap(clean_f, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    dark = (tir | ~forward) & inside
    return seen, dark


def _radial_field(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised radius (0 at the thickest point, 1 at the rim) and the outward in-plane direction."""
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    # Smoothed: the raw distance has creases along the medial axis of non-round drops.
    dist = cv2.GaussianBlur(dist, (0, 0), max(1.0, 0.3 * float(dist.max()))) * mask
    rho = np.clip(1 - dist / max(float(dist.max()), 1e-6), 0, 1)
    gy, gx = np.gradient(-dist)
    norm = np.hypot(gx, gy) + 1e-9
    return rho, np.stack([gx / norm, gy / norm], -1)


def render_drops(
    clean: np.ndarray, drops: Sequence[Drop], optics: DropOptics = DropOptics()
) -> tuple[np.ndarray, np.ndarray]:
    """R (float32 H x W x 3 in [0, 1], zero outside M) and M (bool H x W) for ``drops`` over ``clean``."""
    h, w = clean.shape[:2]
    clean_f = clean.astype(np.float32) / 255.0
    sharp = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    for drop in drops:
        poly = drop_polygon(drop)
        x0, y0 = np.floor(poly.min(0)).astype(int) - 1
        x1, y1 = np.ceil(poly.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        local = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(local, [np.round((poly - (x0, y0)) * 16).astype(np.int32)], 1, shift=4)
        inside = local.astype(bool)
        if not inside.any():
            continue
        rho, radial = _radial_field(local)
        seen, dark = _trace_drop(clean_f, drop, optics, (x0, y0, x1, y1), inside, rho, radial)
        shade = optics.transmission * (1 - optics.rim_darkening * rho**4)[..., None]
        look = np.where(dark[..., None], 0.08 * seen.mean(axis=(0, 1)), seen * shade)
        region = (slice(y0, y1), slice(x0, x1))
        sharp[region][inside] = look[inside]
        alpha[region][inside] = 1.0
    radius = int(round(optics.defocus_px_frac * w))
    if radius >= 1:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)).astype(np.float32)
        disc /= disc.sum()
        premultiplied = cv2.filter2D(sharp * alpha[..., None], -1, disc, borderType=cv2.BORDER_REFLECT_101)
        alpha = cv2.filter2D(alpha, -1, disc, borderType=cv2.BORDER_REFLECT_101)
        sharp = premultiplied / np.maximum(alpha, 1e-6)[..., None]
    mask = alpha > 1e-3
    # Soft edges: the blurred drop over the clean background, so I_r = (1 - M) I_gt + R holds exactly.
    layer = alpha[..., None] * sharp + (1 - alpha[..., None]) * clean_f
    layer = np.where(mask[..., None], np.maximum(layer, MIN_LIGHT), 0.0).astype(np.float32)
    return layer, mask
