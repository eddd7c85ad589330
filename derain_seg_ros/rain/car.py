"""The ``car`` rain preset: rain as a car's camera records it.

Physical order: the atmosphere veils the scene (rain/veil.py), falling drops streak it during the
exposure (rain/falling_rain.py), drops on the windscreen refract it and are blurred by the lens
(rain/glass_drops.py, rain/glass_process.py), and the wet glass scatters part of the light
(rain/veil.py). Written in the paper's formation model (Guo et al. 2020) with the veil as an
added term:

    I_r = (1 - M) * I_gt + R + S + V
    M: the drops' soft coverage (after the lens blur); R: their appearance, premultiplied by M;
    S = (1 - M) * alpha_s * (E_r - B): the streaks (Garg & Nayar), seen where no drop covers them;
    V = everything the veil adds: (1 - M) (B - I_gt) for the atmosphere (B = t I_gt + (1 - t) A),
        the scene's defocus when the camera focuses on the glass, and the wet glass' halo and glare.

Every term is returned (RainFrame), and the frame is exactly their sum before rounding to 8 bits.
A sequence (one rain seed) draws its storm once (peak rain rate, exposure, vehicle speed, wind);
its rain builds up over the first steps, and drops arrive from step 2 on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from derain_seg_ros.rain import seeds
from derain_seg_ros.rain.camera import Camera, parse_camera
from derain_seg_ros.rain.falling_rain import StreakConditions, opacity_bound, render_streak_opacity
from derain_seg_ros.rain.frame import ParamsRenderer, RainFrame
from derain_seg_ros.rain.glass_drops import DropLook, disc_kernel, render_glass_drops
from derain_seg_ros.rain.glass_process import GlassDropParams, GlassDrops, step_drops
from derain_seg_ros.rain.veil import VeilParams, atmosphere, wet_glass
from derain_seg_ros.rain.windscreen import Windscreen, visible_glass

# Rain rates (mm/h) of the named densities, and the range a sequence draws its peak from.
DENSITIES: dict[str, tuple[float, tuple[float, float], float]] = {
    # name: (typical rate for previews, (low, high) for sampling, probability of a sequence)
    "light": (2.5, (1.0, 4.0), 0.35),
    "medium": (10.0, (4.0, 16.0), 0.40),
    "heavy": (40.0, (16.0, 60.0), 0.25),
}
FOCUS_MODES = ("far", "glass")


def density_of(rain_mmh: float) -> str:
    return "light" if rain_mmh < 4.0 else "medium" if rain_mmh < 16.0 else "heavy"


@dataclass(frozen=True)
class CarRainParams:
    camera: Camera = field(default_factory=lambda: parse_camera("car"))
    glass: Windscreen = Windscreen()
    focus: str = "far"  # 'far': the road in focus (a car's camera); 'glass': the windscreen in focus
    far_focus_m: float = 20.0
    num_steps: int = 12
    rain_from: int = 1  # first step with rain in the air (streaks, veil)
    drops_from: int = 2  # first step with drops on the glass
    ramp_steps: int = 3  # the rain reaches its peak rate after this many steps
    exposure_ms: tuple[float, float] = (4.0, 12.0)  # per sequence, log-uniform
    vehicle_speed_mps: tuple[float, float] = (0.0, 25.0)  # per sequence, uniform
    wind_sigma_mps: float = 2.0
    # Garg & Nayar's radiance model leaves out the specular glints that make real streaks catch the eye; as
    # they stand, streaks reach ~5 % opacity at best and vanish. 2.5 makes them faint but visible, and keeps
    # one streak's opacity under ~0.3 at the shortest exposure (max_streak_opacity), so heavy rain stays see-through.
    streak_gain: float = 2.5
    glare: bool = True
    drops: GlassDropParams = GlassDropParams()
    look: DropLook = DropLook()
    density: str | None = None  # None: each sequence draws its storm; a name pins the peak rate (previews)

    @property
    def focus_m(self) -> float:
        return self.far_focus_m if self.focus == "far" else self.glass.distance_m

    def max_streak_opacity(self) -> float:
        """The bound of one streak's alpha under this preset (its shortest exposure)."""
        return opacity_bound(self.exposure_ms[0] / 1000.0, self.streak_gain)


@dataclass(frozen=True)
class Storm:
    peak_mmh: float
    exposure_s: float
    vehicle_speed_mps: float
    wind_mps: float


def draw_storm(seed: int, p: CarRainParams) -> Storm:
    rng = seeds.stream_rng(seed, 0, seeds.SEQUENCE)
    names = list(DENSITIES)
    name = p.density or names[int(rng.choice(len(names), p=[DENSITIES[n][2] for n in names]))]
    low, high = DENSITIES[name][1]
    peak = DENSITIES[name][0] if p.density else float(math.exp(rng.uniform(math.log(low), math.log(high))))
    exposure = math.exp(rng.uniform(*np.log(p.exposure_ms))) / 1000.0
    return Storm(peak, exposure, float(rng.uniform(*p.vehicle_speed_mps)), float(rng.normal(0, p.wind_sigma_mps)))


def rain_rate(step: int, storm: Storm, p: CarRainParams) -> float:
    if step < p.rain_from:
        return 0.0
    return storm.peak_mmh * min(1.0, (step - p.rain_from + 1) / p.ramp_steps)


def simulate_glass(seed: int, time_step: int, height: int, width: int, p: CarRainParams) -> list[GlassDrops]:
    """Drops on the glass (metres) at every step 0..time_step; the glass region depends only on the aspect ratio."""
    storm = draw_storm(seed, p)
    region = visible_glass(p.camera, p.glass, height, width)
    rng = seeds.stream_rng(seed, 0, seeds.DROPS)
    history: list[GlassDrops] = []
    drops = GlassDrops.empty()
    for step in range(time_step + 1):
        if step >= p.drops_from:
            drops = step_drops(drops, rain_rate(step, storm, p), region, p.drops, rng)
        history.append(drops)
    return history


def _phase(step: int, p: CarRainParams) -> str:
    return "dry" if step < p.rain_from else "rain" if step < p.drops_from else "drops"


def _stats(values: list[float] | np.ndarray, digits: int = 3) -> dict[str, float] | None:
    if len(values) == 0:
        return None
    v = np.asarray(values, np.float64)
    return {
        "min": round(float(v.min()), digits),
        "median": round(float(np.median(v)), digits),
        "max": round(float(v.max()), digits),
    }


def render_car_rain(clean: np.ndarray, seed: int, time_step: int, p: CarRainParams, layers: bool = True) -> RainFrame:
    """The rainy frame of step ``time_step`` of the sequence ``seed`` over ``clean`` (uint8 H x W x 3).

    ``layers=False`` leaves S and V out (None): synthesis writes only the frame, and at 2048 wide
    the two extra full-size terms cost a tenth of the render.
    """
    if clean.dtype != np.uint8 or clean.ndim != 3:
        raise ValueError(f"clean must be uint8 H x W x 3, got {clean.dtype} {clean.shape}")
    h, w = clean.shape[:2]
    storm = draw_storm(seed, p)
    rate = rain_rate(time_step, storm, p)
    image = clean.astype(np.float32) / 255.0
    zeros3 = np.zeros((h, w, 3), np.float32)
    if rate <= 0:
        info = {"preset": "car", "time_step": time_step, "phase": "dry", "rain_mmh": 0.0, "density": None}
        return RainFrame(
            clean.copy(), np.zeros((h, w), bool), zeros3, zeros3, info, np.zeros((h, w), np.float32), zeros3
        )

    veil = VeilParams.for_rain(rate, p.glare)
    hazed, transmission, air = atmosphere(image, p.camera, veil)
    cond = StreakConditions(rate, storm.exposure_s, storm.vehicle_speed_mps, storm.wind_mps, p.streak_gain)
    alpha_s, streak_stats = render_streak_opacity(
        h, w, p.camera, p.focus_m, cond, seeds.stream_rng(seed, time_step, seeds.STREAKS)
    )
    radiance = _drop_radiance(hazed)
    streaked = hazed + alpha_s[..., None] * (radiance - hazed)
    background = streaked
    if p.focus == "glass":  # the scene, metres away, is what the lens now blurs
        background = cv2.filter2D(
            streaked,
            -1,
            disc_kernel(0.5 * p.camera.coc_px(p.look.scene_m, p.focus_m, w)),
            borderType=cv2.BORDER_REFLECT_101,
        )
    drops = simulate_glass(seed, time_step, h, w, p)[-1].as_drops()
    m, r, drop_stats = render_glass_drops(streaked, drops, p.camera, p.glass, p.focus_m, p.look)
    through = (1 - m)[..., None] * background + r
    final = wet_glass(through, veil)
    rainy = np.clip(np.rint(final * 255.0), 0, 255).astype(np.uint8)

    s = v = None
    if layers:
        keep = (1 - m)[..., None]
        s = (keep * (streaked - hazed)).astype(np.float32)
        v = (final - (keep * image + r + s)).astype(np.float32)
    info = {
        "preset": "car",
        "time_step": time_step,
        "phase": _phase(time_step, p),
        "rain_mmh": round(rate, 3),
        "density": density_of(rate),
        "storm_peak_mmh": round(storm.peak_mmh, 3),
        "camera": p.camera.describe(h, w),
        "focus": p.focus,
        "focus_m": p.focus_m,
        "windscreen": asdict(p.glass),
        "drops": {
            "count": len(drops),
            "rendered": drop_stats.rendered,
            "radius_mm": _stats([d.radius * 1000 for d in drops]),
            "radius_px": _stats(drop_stats.radius_px or []),
            "coc_px": _stats(drop_stats.coc_px or []),
            "area_fraction": round(float((m > 1 / 255).mean()), 4),
        },
        "streaks": {
            "count": streak_stats.count,
            "capped": streak_stats.capped,
            "exposure_ms": round(storm.exposure_s * 1000, 3),
            "vehicle_speed_mps": round(storm.vehicle_speed_mps, 3),
            "wind_mps": round(storm.wind_mps, 3),
            "gain": p.streak_gain,
            "max_alpha": round(streak_stats.max_alpha, 4),
            "radiance": [round(float(c), 4) for c in radiance],
        },
        "veil": {
            "extinction_per_km": round(veil.extinction_per_km, 4),
            "transmission_min": round(float(transmission.min()), 4),
            "airlight": round(float(air[0]), 4),
            "scatter": round(veil.scatter, 4),
            "glare": round(veil.glare, 4),
        },
    }
    return RainFrame(rainy, m > 1e-3, s, r, info, m, v)  # type: ignore[arg-type]


def _drop_radiance(image: np.ndarray) -> np.ndarray:
    """E_r: a falling drop gathers light from a wide field (Garg & Nayar), mostly the bright sky above:
    the mean of the frame's upper half, lifted towards its bright end, nearly grey."""
    top = image[: max(1, image.shape[0] // 2) : 4, ::4].reshape(-1, 3)  # every 4th pixel: plenty for these statistics
    level = 0.5 * top.mean(0) + 0.5 * np.percentile(top, 95, axis=0)
    grey = float(level.mean())
    return np.clip(0.3 * level + 0.7 * grey, 0, 1).astype(np.float32)


class CarRenderer(ParamsRenderer):
    preset = "car"
    default_params = CarRainParams
    render_fn = staticmethod(render_car_rain)

    def with_density(self, density: str | None) -> CarRenderer:
        return CarRenderer(replace(self.params, density=density))

    def describe(self) -> dict[str, Any]:
        p = self.params
        return {
            "preset": self.preset,
            "camera": asdict(p.camera),
            "windscreen": asdict(p.glass),
            "focus": p.focus,
            "focus_m": p.focus_m,
            "num_steps": p.num_steps,
            "rain_from": p.rain_from,
            "drops_from": p.drops_from,
            "exposure_ms": list(p.exposure_ms),
            "vehicle_speed_mps": list(p.vehicle_speed_mps),
            "streak_gain": p.streak_gain,
            "max_streak_opacity": round(p.max_streak_opacity(), 4),
            "glare": p.glare,
            "drops": asdict(p.drops),
            "look": asdict(p.look),
            "densities": {
                k: {"rate_mmh": v[0], "range_mmh": list(v[1]), "probability": v[2]} for k, v in DENSITIES.items()
            },
        }


@lru_cache(maxsize=8)
def car_params(focus: str = "far", camera: str = "car") -> CarRainParams:
    if focus not in FOCUS_MODES:
        raise ValueError(f"unknown focus {focus!r}; choose one of {', '.join(FOCUS_MODES)}")
    return CarRainParams(camera=parse_camera(camera), focus=focus)
