"""The ``pane`` rain preset: a wet glass pane a few centimetres in front of the lens.

This is how the paper's real-world set was recorded (RobotCar(R), Porav et al. 2019: a stereo
camera behind a pane that is sprayed on one side). Its drops are unlike a windscreen seen by a car's
camera (the ``car`` preset): large (most 3-6 % of the image width across, the largest over 10 %),
dense (often a third to half of the frame covered), nearly in focus, and each a bright refracted,
flipped view of the scene with a dark rim. No rain falls between pane and scene, so there are no
streaks and no veil: I_r = (1 - M) * I_gt + R.

Optics are the windscreen model's (rain/glass_drops.py: water caps on a plane, refraction through
the cap, Fresnel dimming, thin-lens blur), with the plane close and nearly facing the camera, the
camera focused on the scene at a small aperture (so the background stays sharp and the drops are
blurred by a pixel or a few). A sequence draws its coverage, drop sizes, aperture and pane tilt
once; drops arrive over the time steps (step 0 is dry, the last step reaches the drawn coverage)
and rest side by side (draw_drops).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from derain_seg_ros.rain import seeds
from derain_seg_ros.rain.camera import Camera, parse_camera
from derain_seg_ros.rain.frame import ParamsRenderer, RainFrame
from derain_seg_ros.rain.glass_drops import DropLook, render_glass_drops
from derain_seg_ros.rain.glass_process import SHAPES, GlassDrops
from derain_seg_ros.rain.windscreen import Windscreen, visible_glass


@dataclass(frozen=True)
class PaneRainParams:
    camera: Camera = field(default_factory=lambda: parse_camera("car"))
    distance_m: tuple[float, float] = (0.03, 0.06)  # lens to pane, per sequence
    tilt_deg: tuple[float, float] = (0.0, 20.0)  # pane normal vs optical axis
    coverage: tuple[float, float] = (0.1, 0.5)  # share of the pane the drops cover at the last step
    diameter_median: float = 0.045  # drop diameter / image width, lognormal median
    diameter_sigma: float = 0.4  # of its log
    diameter_range: tuple[float, float] = (0.012, 0.14)
    f_number: tuple[float, float] = (8.0, 22.0)  # small apertures: the scene sharp, the drops nearly so
    focus_m: float = 20.0
    num_steps: int = 6
    look: DropLook = DropLook(contact_angle_deg=(30.0, 70.0), interior=0.35)


@dataclass(frozen=True)
class PaneSetup:
    """What one sequence draws once."""

    glass: Windscreen
    camera: Camera
    coverage: float


def draw_setup(seed: int, p: PaneRainParams) -> PaneSetup:
    rng = seeds.stream_rng(seed, 0, seeds.SEQUENCE)
    glass = Windscreen(
        distance_m=float(rng.uniform(*p.distance_m)), tilt_deg=float(rng.uniform(*p.tilt_deg)), max_range_m=1.0
    )
    f_number = float(math.exp(rng.uniform(math.log(p.f_number[0]), math.log(p.f_number[1]))))
    return PaneSetup(glass, replace(p.camera, f_number=f_number), float(rng.uniform(*p.coverage)))


def draw_drops(seed: int, setup: PaneSetup, height: int, width: int, p: PaneRainParams) -> GlassDrops:
    """Every drop the sequence will have, in arrival order, until they cover ``setup.coverage`` of
    the visible pane. Drops rest side by side: one that would land on another is taken as having
    joined it and run off (random sequential adsorption), so dense panes stay a mosaic of separate
    drops, as photographs of sprayed panes show, rather than merging into one sheet."""
    u0, u1, v0, v1 = visible_glass(setup.camera, setup.glass, height, width)
    rng = seeds.stream_rng(seed, 0, seeds.DROPS)
    target = setup.coverage * (u1 - u0) * (v1 - v0)
    low, high = p.diameter_range
    xs: list[float] = []
    ys: list[float] = []
    rs: list[float] = []
    covered, attempts = 0.0, 0
    while covered < target and attempts < 50 * (len(rs) + 20):
        attempts += 1
        radius = (
            0.5 * (u1 - u0) * float(np.clip(p.diameter_median * math.exp(rng.normal(0, p.diameter_sigma)), low, high))
        )
        x, y = float(rng.uniform(u0, u1)), float(rng.uniform(v0, v1))
        if rs and np.any(np.hypot(np.asarray(xs) - x, np.asarray(ys) - y) < 1.1 * (np.asarray(rs) + radius)):
            continue
        xs.append(x)
        ys.append(y)
        rs.append(radius)
        covered += math.pi * radius * radius
    n = len(rs)
    return GlassDrops(
        np.asarray(xs),
        np.asarray(ys),
        np.asarray(rs),
        rng.integers(0, len(SHAPES), n),
        rng.integers(0, 2**31 - 1, n),
        rng.uniform(1.0, 1.2, n),
    )


def render_pane_rain(clean: np.ndarray, seed: int, time_step: int, p: PaneRainParams, layers: bool = True) -> RainFrame:
    """The frame of step ``time_step`` of sequence ``seed`` over ``clean`` (uint8 H x W x 3)."""
    if clean.dtype != np.uint8 or clean.ndim != 3:
        raise ValueError(f"clean must be uint8 H x W x 3, got {clean.dtype} {clean.shape}")
    h, w = clean.shape[:2]
    zeros3 = np.zeros((h, w, 3), np.float32)
    setup = draw_setup(seed, p)
    everything = draw_drops(seed, setup, h, w, p)
    arrived = int(math.ceil(len(everything) * min(time_step, p.num_steps - 1) / (p.num_steps - 1)))
    drops = everything.take(np.arange(arrived)).as_drops()
    image = clean.astype(np.float32) / 255.0
    m, r, stats = render_glass_drops(image, drops, setup.camera, setup.glass, p.focus_m, p.look)
    final = (1 - m)[..., None] * image + r
    rainy = np.clip(np.rint(final * 255.0), 0, 255).astype(np.uint8)
    info = {
        "preset": "pane",
        "time_step": time_step,
        "phase": "drops" if drops else "dry",
        "pane": {
            "distance_m": round(setup.glass.distance_m, 4),
            "tilt_deg": round(setup.glass.tilt_deg, 2),
            "f_number": round(setup.camera.f_number, 2),
            "target_coverage": round(setup.coverage, 3),
        },
        "drops": {
            "count": len(drops),
            "rendered": stats.rendered,
            "diameter_frac": _quantiles([2 * x / w for x in stats.radius_px or []]),
            "coc_px": _quantiles(stats.coc_px or []),
            "area_fraction": round(float((m > 1 / 255).mean()), 4),
        },
    }
    return RainFrame(rainy, m > 1e-3, zeros3 if layers else None, r, info, m, zeros3 if layers else None)


def _quantiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    v = np.asarray(values)
    return {"min": round(float(v.min()), 4), "median": round(float(np.median(v)), 4), "max": round(float(v.max()), 4)}


class PaneRenderer(ParamsRenderer):
    preset = "pane"
    default_params = PaneRainParams
    render_fn = staticmethod(render_pane_rain)

    def describe(self) -> dict[str, Any]:
        p = self.params
        return {
            "preset": self.preset,
            "focus_m": p.focus_m,
            "camera": asdict(p.camera),
            "distance_m": list(p.distance_m),
            "tilt_deg": list(p.tilt_deg),
            "coverage": list(p.coverage),
            "diameter_median": p.diameter_median,
            "diameter_sigma": p.diameter_sigma,
            "diameter_range": list(p.diameter_range),
            "f_number": list(p.f_number),
            "num_steps": p.num_steps,
            "look": asdict(p.look),
        }


@lru_cache(maxsize=8)
def pane_params(camera: str = "car") -> PaneRainParams:
    return PaneRainParams(camera=parse_camera(camera))
