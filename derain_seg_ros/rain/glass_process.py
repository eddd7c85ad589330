"""Drops on the windscreen over time, in metres of glass: arrive, grow, merge, slide down.

The state is simulated step by step (cheap, vectorised: heavy rain puts hundreds of drops on the
glass) and lives on the glass, not in pixels, so one seed gives the same drops at every
resolution and through every lens. Sizes: water drops resting on glass have contact radii from a
fraction of a millimetre to a few millimetres (the range of the adherent-raindrop models of Roser
et al. 2010, You et al. 2015 and Porav et al. 2019); new drops draw a lognormal radius (median
0.9 mm), grow by collecting the mist, merge when they touch (area kept, area-weighted centre) and
run down the slope, leaving a trail of small drops, once they pass ~2 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derain_seg_ros.rain.drop_shapes import Drop

SHAPES = ("circle", "egg", "bezier")


@dataclass(frozen=True)
class GlassDropParams:
    # New drops per m^2 of glass per step at 1 mm/h; grows as rate^0.6 (heavy rain brings larger drops, and
    # more of them run off, rather than proportionally more).
    arrivals_per_m2: float = 120.0
    arrivals_exponent: float = 0.6
    median_radius_mm: float = 0.9
    radius_sigma: float = 0.5  # of log(radius)
    min_radius_mm: float = 0.25
    max_radius_mm: float = 3.0
    growth: float = 0.06  # area growth per step (the mist and tiny drops a drop collects)
    slide_radius_mm: float = 2.2  # heavier drops overcome pinning and run down the glass
    slide_mm_per_step: float = 12.0
    trail_drops: int = 3
    margin_mm: float = 5.0  # drops land a little outside the visible glass too, and may slide in


@dataclass
class GlassDrops:
    """Struct of arrays: centre (x = u, y = v) and radius in metres, shape index, shape seed, stretch along v."""

    x: np.ndarray
    y: np.ndarray
    radius: np.ndarray
    shape: np.ndarray
    seed: np.ndarray
    stretch: np.ndarray

    @classmethod
    def empty(cls) -> GlassDrops:
        f, i = np.zeros(0, np.float64), np.zeros(0, np.int64)
        return cls(f, f.copy(), f.copy(), i, i.copy(), f.copy())

    def __len__(self) -> int:
        return len(self.x)

    def take(self, keep: np.ndarray) -> GlassDrops:
        return GlassDrops(
            self.x[keep], self.y[keep], self.radius[keep], self.shape[keep], self.seed[keep], self.stretch[keep]
        )

    def concat(self, other: GlassDrops) -> GlassDrops:
        return GlassDrops(*(np.concatenate([a, b]) for a, b in zip(self.fields(), other.fields(), strict=True)))

    def fields(self) -> tuple[np.ndarray, ...]:
        return self.x, self.y, self.radius, self.shape, self.seed, self.stretch

    def as_drops(self) -> list[Drop]:
        return [
            Drop(float(x), float(y), float(r), SHAPES[int(s)], int(k), float(st))  # type: ignore[arg-type]
            for x, y, r, s, k, st in zip(*self.fields(), strict=True)
        ]


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component labels (smallest member index) of the graph with edges (i, j)."""
    labels = np.arange(n)
    while True:
        new = labels.copy()
        np.minimum.at(new, i, labels[j])
        np.minimum.at(new, j, labels[i])
        new = new[new]
        if np.array_equal(new, labels):
            return labels
        labels = new


def merge_touching(drops: GlassDrops) -> GlassDrops:
    """Merge every group of drops whose discs touch into one: total area, area-weighted centre, the largest one's look.

    A merged drop is larger and may now touch others, so the search repeats, but only from the drops
    that changed (the first pass compares all pairs).
    """
    changed = np.arange(len(drops))
    while len(drops) > 1 and len(changed):
        dist = np.hypot(drops.x[changed, None] - drops.x[None, :], drops.y[changed, None] - drops.y[None, :])
        touching = dist < drops.radius[changed, None] + drops.radius[None, :]
        touching[np.arange(len(changed)), changed] = False
        a, b = np.nonzero(touching)
        if len(a) == 0:
            break
        labels = _components(len(drops), changed[a], b)
        _, group = np.unique(labels, return_inverse=True)
        area = drops.radius**2
        total = np.bincount(group, area)
        order = np.lexsort((-area, group))  # per group, the largest drop first
        first = order[np.r_[0, np.flatnonzero(np.diff(group[order])) + 1]]
        merged = drops.take(first)
        merged.x = np.bincount(group, area * drops.x) / total
        merged.y = np.bincount(group, area * drops.y) / total
        merged.radius = np.sqrt(total)
        changed = np.flatnonzero(np.bincount(group) > 1)
        drops = merged
    return drops


def step_drops(
    drops: GlassDrops,
    rain_mmh: float,
    region: tuple[float, float, float, float],
    p: GlassDropParams,
    rng: np.random.Generator,
) -> GlassDrops:
    """One step: grow, slide (with trails), arrive (Poisson in the rain rate), merge."""
    u0, u1, v0, v1 = region
    m = p.margin_mm / 1000.0
    drops = GlassDrops(*(a.copy() for a in drops.fields()))  # earlier steps keep their own state
    drops.radius = drops.radius * np.sqrt(1 + p.growth)
    sliding = np.flatnonzero(drops.radius > p.slide_radius_mm / 1000.0)
    if len(sliding):
        dv = p.slide_mm_per_step / 1000.0 * rng.uniform(0.6, 1.4, len(sliding))
        trail_r = drops.radius[sliding] * 0.18
        k = np.arange(p.trail_drops)
        trails = GlassDrops(
            np.repeat(drops.x[sliding], p.trail_drops)
            + rng.normal(0, 1, len(sliding) * p.trail_drops) * np.repeat(0.15 * drops.radius[sliding], p.trail_drops),
            (drops.y[sliding, None] + dv[:, None] * k / p.trail_drops).ravel(),
            np.repeat(trail_r, p.trail_drops),
            np.zeros(len(sliding) * p.trail_drops, np.int64),
            rng.integers(1 << 31, size=len(sliding) * p.trail_drops),
            np.ones(len(sliding) * p.trail_drops),
        )
        area = np.maximum(drops.radius[sliding] ** 2 - p.trail_drops * trail_r**2, trail_r**2)
        drops.y[sliding] += dv
        drops.radius[sliding] = np.sqrt(area)
        drops.shape[sliding] = SHAPES.index("egg")
        drops.stretch[sliding] = 1.35
        drops = drops.concat(trails)
    drops = drops.take(drops.y - drops.radius < v1 + m)
    count = int(rng.poisson(p.arrivals_per_m2 * rain_mmh**p.arrivals_exponent * (u1 - u0 + 2 * m) * (v1 - v0 + 2 * m)))
    radius = (
        np.clip(p.median_radius_mm * rng.lognormal(0, p.radius_sigma, count), p.min_radius_mm, p.max_radius_mm) / 1000.0
    )
    arrivals = GlassDrops(
        rng.uniform(u0 - m, u1 + m, count),
        rng.uniform(v0 - m, v1 + m, count),
        radius,
        rng.integers(len(SHAPES), size=count),
        rng.integers(1 << 31, size=count),
        np.ones(count),
    )
    return merge_touching(drops.concat(arrivals))
