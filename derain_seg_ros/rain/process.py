"""The legacy preset's rain process over time: dry -> streaks -> drops accumulate -> grow and merge -> slide down.

The first renderer, kept unchanged so that datasets made with it regenerate byte for byte
(``--rain-preset legacy``); the default is the camera-model renderer of rain/car.py. Drop sizes
here are fractions of the image width, streaks are DID-MDN-style noise.

Only the drop *state* is simulated step by step (cheap); pixels are rendered for the one step
asked for. Everything comes from ``seed``: the same (seed, step) gives the same bytes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from derain_seg_ros.rain.compose import compose
from derain_seg_ros.rain.drop_shapes import Drop
from derain_seg_ros.rain.drops import DropOptics, render_drops
from derain_seg_ros.rain.frame import RainFrame
from derain_seg_ros.rain.streaks import StreakParams, render_streaks

SHAPES = ("circle", "egg", "bezier")


@dataclass(frozen=True)
class RainProcessParams:
    num_steps: int = 12
    streaks_from: int = 1  # first step with streaks
    drops_from: int = 3  # first step with drops on the glass
    arrivals_per_step: float = 10.0  # Poisson mean per step; sizes scale with width, so any resolution looks alike
    median_radius_frac: float = 0.006  # new drops' median radius, fraction of width
    growth: float = 0.12  # area growth per step (condensation, splashes)
    slide_radius_frac: float = 0.012  # drops larger than this slide down
    slide_speed: float = 1.5  # radii per step
    trail_drops: int = 3
    optics: DropOptics = DropOptics()

    def streak_density(self, step: int) -> str | None:
        if step < self.streaks_from:
            return None
        span = max(1, self.num_steps - self.streaks_from)
        return ("light", "medium", "heavy")[min(2, 3 * (step - self.streaks_from) // span)]


def merge_touching(drops: list[Drop]) -> tuple[list[Drop], int]:
    """Merge drops whose discs touch; the merged drop keeps the total area and the area-weighted centre."""
    drops, merges, changed = list(drops), 0, True
    while changed:
        changed = False
        for i in range(len(drops)):
            for j in range(i + 1, len(drops)):
                a, b = drops[i], drops[j]
                if np.hypot(a.x - b.x, a.y - b.y) < a.radius + b.radius:
                    wa, wb = a.area, b.area
                    big = a if wa >= wb else b
                    drops[i] = replace(
                        big,
                        x=(a.x * wa + b.x * wb) / (wa + wb),
                        y=(a.y * wa + b.y * wb) / (wa + wb),
                        radius=float(np.sqrt(a.radius**2 + b.radius**2)),
                    )
                    del drops[j]
                    merges += 1
                    changed = True
                    break
            if changed:
                break
    return drops, merges


def _step(
    drops: list[Drop], step: int, height: int, width: int, p: RainProcessParams, rng: np.random.Generator
) -> tuple[list[Drop], int]:
    if step < p.drops_from:
        return [], 0
    moved: list[Drop] = []
    for d in drops:
        d = replace(d, radius=d.radius * float(np.sqrt(1 + p.growth)))
        if d.radius > p.slide_radius_frac * width:  # heavy enough to run down, leaving a trail
            dy = p.slide_speed * d.radius
            for k in range(p.trail_drops):
                moved.append(
                    Drop(
                        d.x + rng.normal(0, 0.1 * d.radius),
                        d.y + dy * k / p.trail_drops,
                        d.radius * 0.15,
                        "circle",
                        int(rng.integers(1 << 31)),
                    )
                )
            lost = sum(np.pi * (d.radius * 0.15) ** 2 for _ in range(p.trail_drops))
            d = replace(d, y=d.y + dy, radius=float(np.sqrt(max(d.area - lost, 1.0) / np.pi)), shape="egg", stretch=1.3)
        if d.y - d.radius < height:
            moved.append(d)
    count = rng.poisson(p.arrivals_per_step)
    median = p.median_radius_frac * width
    for _ in range(count):
        moved.append(
            Drop(
                float(rng.uniform(0, width)),
                float(rng.uniform(0, height)),
                float(median * rng.lognormal(0, 0.35)),
                SHAPES[int(rng.integers(3))],
                int(rng.integers(1 << 31)),
            )
        )
    return merge_touching(moved)


def simulate_drops(
    height: int, width: int, seed: int, time_step: int, params: RainProcessParams = RainProcessParams()
) -> list[list[Drop]]:
    """The drops on the glass at every step 0..time_step (the history lets tests watch the process)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    history, drops = [], []
    for step in range(time_step + 1):
        drops, _ = _step(drops, step, height, width, params, rng)
        history.append(drops)
    return history


def render_rainy(clean: np.ndarray, seed: int, time_step: int, params: RainProcessParams | None = None) -> RainFrame:
    """The rainy frame of step ``time_step`` of the sequence ``seed`` over the clean image."""
    params = params or RainProcessParams()
    h, w = clean.shape[:2]
    drops = simulate_drops(h, w, seed, time_step, params)[-1]
    density = params.streak_density(time_step)
    streak_rng = np.random.default_rng(np.random.SeedSequence([seed, 1, time_step]))
    streak_params = StreakParams.preset(density, streak_rng) if density else None
    streaks = render_streaks(h, w, streak_params, streak_rng) if streak_params else np.zeros((h, w), np.float32)
    layer, mask = render_drops(clean, drops, params.optics)
    rainy = compose(clean, mask, layer, streaks)
    info = {
        "time_step": time_step,
        "phase": _phase(time_step, params),
        "drops": len(drops),
        "drop_area_fraction": float(mask.mean()),
        "streaks": asdict(streak_params) if streak_params else None,
        "streak_density": density,
    }
    return RainFrame(rainy, mask, streaks, layer, info)


def _phase(step: int, p: RainProcessParams) -> str:
    if step < p.streaks_from:
        return "dry"
    if step < p.drops_from:
        return "streaks"
    return "drops"
