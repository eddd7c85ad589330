"""Windscreen drops through the camera: M (soft coverage) and R (appearance, premultiplied by M).

Each drop is a water cap (a spherical cap with its own contact angle) on the glass. A camera ray
meets the glass, refracts into the water at the flat base (air -> water; a thin parallel glass
plate does not change the direction), leaves through the curved cap (water -> air, or total
internal reflection) and travels to the scene, taken as a plane ``scene_m`` ahead; the colour
there, projected back into the image, is what the drop shows. The cap is a strong lens: the view
inside is a small, flipped image of a wide field. Fresnel transmittance (Schlick) at both
surfaces dims the drop towards its rim, where the cap is steep; what is not transmitted comes
from inside the car (dark). Then the camera: each drop is blurred by its own thin-lens circle of
confusion (a disc), so a drop far from the focus plane becomes a translucent blob whose peak
coverage falls where the blur exceeds the drop. Edges are antialiased analytically, so drops of
a pixel or two still render smoothly at 128x256.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from derain_seg_ros.rain.camera import Camera
from derain_seg_ros.rain.drop_shapes import Drop
from derain_seg_ros.rain.windscreen import Windscreen, glass_to_pixel, pixel_to_glass, project

N_WATER = 1.333
R0_WATER = ((N_WATER - 1) / (N_WATER + 1)) ** 2  # normal-incidence Fresnel reflectance, ~0.02


@dataclass(frozen=True)
class DropLook:
    contact_angle_deg: tuple[float, float] = (25.0, 60.0)  # per drop, uniform (weathered glass wets: ~20-60 deg)
    scene_m: float = 20.0  # where the refracted rays meet the scene
    # What a ray that does not leave towards the scene ends up seeing (totally reflected inside the cap, it
    # bounces between cap and glass before it escapes, some to the sky, some into the car): a fraction of the
    # scene's mean. Darker rims and a dark up-slope crescent, not black holes.
    interior: float = 0.5
    min_radius_px: float = 0.15  # drops smaller than this in the image are skipped (invisible)


def disc_kernel(radius: float) -> np.ndarray:
    """Normalised pillbox of a fractional radius (antialiased edge): the thin lens' blur of a point."""
    return _disc(round(max(radius, 0.0), 2))


@lru_cache(maxsize=512)
def _disc(r: float) -> np.ndarray:
    half = int(math.ceil(r + 0.5))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    kernel = np.clip(r + 0.5 - np.hypot(xx, yy), 0.0, 1.0).astype(np.float32)
    return kernel / kernel.sum()


def radial_profile(drop: Drop, phi: np.ndarray) -> np.ndarray:
    """Outline radius / nominal radius at angle ``phi`` (from u towards v), area-normalised (pi radius^2)."""
    if drop.shape == "circle":
        r = np.ones_like(phi)
        mean_sq = 1.0
    elif drop.shape == "egg":  # the bulge hangs down the slope (+v)
        r = 1 + 0.25 * np.sin(phi)
        mean_sq = 1 + 0.25**2 / 2
    else:  # irregular: a few low harmonics from the drop's own seed
        rng = np.random.default_rng(drop.shape_seed)
        amps, phases = rng.uniform(0, [0.12, 0.07, 0.05]), rng.uniform(0, 2 * np.pi, 3)
        r = 1 + sum(a * np.cos(k * phi + p) for a, k, p in zip(amps, (2, 3, 4), phases, strict=True))
        mean_sq = 1 + float(np.sum(amps**2)) / 2
    return r / math.sqrt(mean_sq * drop.stretch)


def contact_angle(drop: Drop, look: DropLook) -> float:
    lo, hi = look.contact_angle_deg
    return lo + (hi - lo) * float(np.random.default_rng([drop.shape_seed, 1]).random())


def _refract(d: np.ndarray, normal: np.ndarray, eta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Snell for unit rays ``d`` at unit normals facing against them: (direction, cos incidence, total internal reflection)."""
    cos_i = -np.sum(normal * d, axis=-1)
    k = 1 - eta**2 * (1 - cos_i**2)
    tir = k < 0
    t = eta * d + (eta * cos_i - np.sqrt(np.clip(k, 0, None)))[..., None] * normal
    return t / np.linalg.norm(t, axis=-1, keepdims=True), cos_i, tir


def _schlick(cos: np.ndarray) -> np.ndarray:
    return R0_WATER + (1 - R0_WATER) * (1 - np.clip(cos, 0, 1)) ** 5


@dataclass
class DropStats:
    rendered: int = 0
    radius_px: list[float] | None = None
    coc_px: list[float] | None = None


def drop_outline_px(
    drop: Drop, camera: Camera, glass: Windscreen, height: int, width: int, vertices: int = 32
) -> np.ndarray:
    phi = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    r = drop.radius * radial_profile(drop, phi)
    return glass_to_pixel(
        camera, glass, height, width, drop.x + r * np.cos(phi), drop.y + drop.stretch * r * np.sin(phi)
    )


def drop_depth_m(drop: Drop, glass: Windscreen) -> float:
    """Depth (camera z) of the drop's centre: what sets its circle of confusion."""
    return float(glass.glass_to_camera(np.float64(drop.x), np.float64(drop.y))[2])


def _trace(
    background: np.ndarray,
    drop: Drop,
    camera: Camera,
    glass: Windscreen,
    look: DropLook,
    box: tuple[int, int, int, int],
    radius_px: float,
    interior: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Sharp coverage and colour of one drop in its box (x0, y0, x1, y1)."""
    h, w = background.shape[:2]
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    u, v, points, hits = pixel_to_glass(camera, glass, h, w, xs, ys)
    du, dv = u - drop.x, (v - drop.y) / drop.stretch
    phi = np.arctan2(dv, du)
    dist = np.hypot(du, dv)
    rho = dist / (drop.radius * radial_profile(drop, phi))
    cover = np.clip((1 - rho) * radius_px + 0.5, 0, 1) * hits
    colour = np.zeros((*cover.shape, 3), np.float32)
    inside = cover > 0
    if not inside.any():
        return cover.astype(np.float32), colour
    rays = points[inside] / np.linalg.norm(points[inside], axis=-1, keepdims=True)
    n = glass.normal
    e_u, e_v = glass.axes
    outward = du[inside, None] * e_u + dv[inside, None] * e_v
    outward /= np.linalg.norm(outward, axis=-1, keepdims=True) + 1e-12
    sin_s = np.minimum(rho[inside], 0.999) * math.sin(math.radians(contact_angle(drop, look)))
    surface = np.sqrt(1 - sin_s**2)[:, None] * n + sin_s[:, None] * outward  # cap normal, pointing out of the water
    in_water, cos_entry, _ = _refract(rays, -n, 1 / N_WATER)
    out, _, tir = _refract(in_water, -surface, N_WATER)
    cos_exit = np.sum(out * surface, axis=-1)  # the transmitted angle: Schlick's cosine when leaving the denser medium
    forward = (out[:, 2] > 1e-3) & ~tir
    entry = points[inside]
    reach = (look.scene_m - entry[:, 2]) / np.where(forward, out[:, 2], 1.0)
    seen_at = project(camera, h, w, entry + out * reach[:, None]).astype(np.float32)
    seen = _sample(background, seen_at)
    transmit = ((1 - _schlick(cos_entry)) * (1 - _schlick(cos_exit)) * forward).astype(np.float32)[:, None]
    colour[inside] = transmit * seen + (1 - transmit) * interior
    return cover.astype(np.float32), colour


def _sample(image: np.ndarray, at: np.ndarray, row: int = 1024) -> np.ndarray:
    """Bilinear samples of ``image`` at N pixel positions (N x 2). Laid out in rows of ``row``,
    because OpenCV's remap takes maps under 32767 rows and a large drop covers more pixels."""
    n = len(at)
    rows = -(-n // row)
    grid = np.zeros((rows * row, 2), np.float32)
    grid[:n] = at
    out = cv2.remap(
        image,
        grid[:, 0].reshape(rows, row),
        grid[:, 1].reshape(rows, row),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return out.reshape(-1, 3)[:n]


def render_scale(
    drops: Sequence[Drop], camera: Camera, glass: Windscreen, focus_m: float, width: int, blur_px: float = 3.0
) -> int:
    """How many times smaller the drops can be rendered: defocus removes detail finer than the blur, so
    with the smallest circle of confusion of the frame at ``blur_px`` or more after the reduction nothing
    visible is lost, and the cost stops growing with the resolution (a 2048-wide frame costs what a 256 does)."""
    if not drops:
        return 1
    smallest = min(camera.coc_px(drop_depth_m(d, glass), focus_m, width) for d in drops)
    return int(np.clip(smallest // blur_px, 1, 8))


def render_glass_drops(
    background: np.ndarray,
    drops: Sequence[Drop],
    camera: Camera,
    glass: Windscreen,
    focus_m: float,
    look: DropLook = DropLook(),
) -> tuple[np.ndarray, np.ndarray, DropStats]:
    """M (float32 H x W in [0, 1]) and R = M * drop colour (float32 H x W x 3) over ``background`` (float32, 0..1)."""
    h, w = background.shape[:2]
    scale = render_scale(drops, camera, glass, focus_m, w)
    if scale == 1:
        return _render(background, drops, camera, glass, focus_m, look, 1)
    small = cv2.resize(background, (max(1, round(w / scale)), max(1, round(h / scale))), interpolation=cv2.INTER_AREA)
    alpha, premul, stats = _render(small, drops, camera, glass, focus_m, look, scale)
    alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
    premul = cv2.resize(premul, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(alpha, 0, 1), premul, stats


def _render(
    background: np.ndarray,
    drops: Sequence[Drop],
    camera: Camera,
    glass: Windscreen,
    focus_m: float,
    look: DropLook,
    scale: int,
) -> tuple[np.ndarray, np.ndarray, DropStats]:
    h, w = background.shape[:2]
    alpha = np.zeros((h, w), np.float32)
    premul = np.zeros((h, w, 3), np.float32)
    interior = (look.interior * background.reshape(-1, 3).mean(0)).astype(np.float32)
    stats = DropStats(0, [], [])
    for drop in drops:
        poly = drop_outline_px(drop, camera, glass, h, w)
        if not np.isfinite(poly).all():
            continue
        x = poly[:, 0]
        y = poly[:, 1]
        area = 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))
        radius_px = math.sqrt(area / math.pi)
        if radius_px * scale < look.min_radius_px:
            continue
        blur = 0.5 * camera.coc_px(drop_depth_m(drop, glass), focus_m, w)
        pad = int(math.ceil(blur + 0.5)) + 1
        bx0, by0 = int(math.floor(x.min())) - 1, int(math.floor(y.min())) - 1
        bx1, by1 = int(math.ceil(x.max())) + 2, int(math.ceil(y.max())) + 2
        if bx1 + pad <= 0 or by1 + pad <= 0 or bx0 - pad >= w or by0 - pad >= h:
            continue
        ox0, oy0, ox1, oy1 = max(bx0 - pad, 0), max(by0 - pad, 0), min(bx1 + pad, w), min(by1 + pad, h)
        ix0, iy0, ix1, iy1 = max(bx0, 0), max(by0, 0), min(bx1, w), min(by1, h)
        a = np.zeros((oy1 - oy0, ox1 - ox0), np.float32)
        p = np.zeros((oy1 - oy0, ox1 - ox0, 3), np.float32)
        if ix1 > ix0 and iy1 > iy0:
            cover, colour = _trace(background, drop, camera, glass, look, (ix0, iy0, ix1, iy1), radius_px, interior)
            a[iy0 - oy0 : iy1 - oy0, ix0 - ox0 : ix1 - ox0] = cover
            p[iy0 - oy0 : iy1 - oy0, ix0 - ox0 : ix1 - ox0] = cover[..., None] * colour
        if blur >= 0.35:
            kernel = disc_kernel(blur)
            a = cv2.filter2D(a, -1, kernel, borderType=cv2.BORDER_CONSTANT)
            p = cv2.filter2D(p, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        region = (slice(oy0, oy1), slice(ox0, ox1))
        keep = 1 - a
        premul[region] = premul[region] * keep[..., None] + p
        alpha[region] = alpha[region] * keep + a
        stats.rendered += 1
        stats.radius_px.append(radius_px * scale)  # type: ignore[union-attr]
        stats.coc_px.append(2 * blur * scale)  # type: ignore[union-attr]
    return np.clip(alpha, 0, 1), premul, stats
