"""Rain synthesis: streak densities and direction, drop optics, composition, and the rain process."""

from __future__ import annotations

import numpy as np
import pytest

from derain_seg_ros.rain.compose import compose
from derain_seg_ros.rain.drop_shapes import Drop, drop_polygon
from derain_seg_ros.rain.drops import DropOptics, render_drops
from derain_seg_ros.rain.process import RainProcessParams, merge_touching, render_rainy, simulate_drops
from derain_seg_ros.rain.streaks import StreakParams, render_streaks


def test_streak_density_and_intensity_grow_from_light_to_heavy() -> None:
    layers = [
        render_streaks(128, 256, StreakParams.preset(d), np.random.default_rng(0)) for d in ("light", "medium", "heavy")
    ]
    means = [float(s.mean()) for s in layers]
    lit = [float((s > 0.05).mean()) for s in layers]
    assert means[0] < means[1] < means[2]
    assert lit[0] < lit[1] < lit[2]


def _orientation_from_vertical(layer: np.ndarray, radius: int = 8) -> float:
    """Principal axis of the layer's autocorrelation peak, in degrees from vertical.

    The autocorrelation of many streaks is one streak-shaped blob, which averages the aliasing
    of individual 1-px lines away.
    """
    x = layer.astype(np.float64) - layer.mean()
    corr = np.fft.fftshift(np.fft.ifft2(np.abs(np.fft.fft2(x)) ** 2).real)
    cy, cx = np.array(corr.shape) // 2
    window = np.clip(corr[cy - radius : cy + radius + 1, cx - radius : cx + radius + 1], 0, None)
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    mxx, myy, mxy = (window * xx * xx).sum(), (window * yy * yy).sum(), (window * xx * yy).sum()
    axis = 0.5 * np.arctan2(2 * mxy, mxx - myy)  # angle of the long axis from +x
    dx, dy = np.cos(axis), np.sin(axis)
    if dy < 0:
        dx, dy = -dx, -dy
    return float(np.degrees(np.arctan2(dx, dy)))


@pytest.mark.parametrize("angle", [-30.0, 0.0, 20.0])
def test_streak_direction_follows_the_angle(angle: float) -> None:
    params = StreakParams(density=0.004, length_frac=0.08, intensity=0.6, angles_deg=(angle,), blur_sigma=0.6)
    layer = render_streaks(200, 200, params, np.random.default_rng(1))
    assert _orientation_from_vertical(layer) == pytest.approx(angle, abs=4.0)


def vertical_gradient(h: int = 128, w: int = 192) -> np.ndarray:
    return np.repeat(np.linspace(0, 255, h).astype(np.uint8)[:, None, None], w, 1).repeat(3, 2)


def test_drop_shows_the_scene_flipped() -> None:
    clean = vertical_gradient()
    optics = DropOptics(contact_angle_deg=40.0, defocus_px_frac=0.0)  # no TIR, no blur: a clean lens
    layer, mask = render_drops(clean, [Drop(96, 64, 20)], optics)
    column = layer[:, 96, 0][mask[:, 96]]
    top, bottom = column[: len(column) // 3].mean(), column[-len(column) // 3 :].mean()
    assert top > bottom  # the background brightens downwards; inside the drop it darkens downwards


def test_total_internal_reflection_is_dark() -> None:
    clean = np.full((96, 96, 3), 200, np.uint8)
    steep = DropOptics(contact_angle_deg=85.0, defocus_px_frac=0.0, rim_darkening=0.0)
    layer, mask = render_drops(clean, [Drop(48, 48, 25)], steep)
    brightness = layer[mask].mean(axis=1) * 255
    assert (brightness < 30).mean() > 0.05  # a ring of TIR pixels
    assert brightness.max() > 150  # the centre still transmits


def test_drop_mask_is_exactly_where_the_drop_layer_is_nonzero() -> None:
    clean = vertical_gradient()
    layer, mask = render_drops(clean, [Drop(50, 60, 15, "egg"), Drop(140, 50, 18, "bezier", 7)], DropOptics())
    assert mask.any()
    assert np.array_equal(mask, (layer > 0).any(axis=2))


def test_without_drops_and_streaks_rainy_equals_clean_outside_m() -> None:
    clean = np.random.default_rng(2).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    layer, mask = render_drops(clean, [Drop(40, 30, 10)], DropOptics())
    rainy = compose(clean, mask, layer, np.zeros((64, 80), np.float32))
    assert np.array_equal(rainy[~mask], clean[~mask])
    assert not np.array_equal(rainy[mask], clean[mask])


@pytest.mark.parametrize("shape", ["circle", "egg", "bezier"])
def test_shapes_keep_their_nominal_area(shape: str) -> None:
    poly = drop_polygon(Drop(0, 0, 10, shape, 3))
    x, y = poly[:, 0], poly[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    assert area == pytest.approx(np.pi * 100, rel=0.01)


def test_drops_accumulate_over_time() -> None:
    params = RainProcessParams(slide_radius_frac=1.0)  # no sliding: pure accumulation
    history = simulate_drops(256, 512, seed=4, time_step=8, params=params)
    counts = [len(h) for h in history[params.drops_from :]]
    areas = [sum(d.area for d in h) for h in history[params.drops_from :]]
    assert all(len(h) == 0 for h in history[: params.drops_from])
    assert counts[-1] > counts[0] and all(b > a for a, b in zip(areas, areas[1:]))


def test_merging_conserves_area_within_five_percent() -> None:
    drops = [Drop(10, 10, 5), Drop(16, 10, 4), Drop(60, 60, 3), Drop(62, 61, 3), Drop(200, 200, 2)]
    merged, count = merge_touching(drops)
    assert count == 2 and len(merged) == 3
    assert sum(d.area for d in merged) == pytest.approx(sum(d.area for d in drops), rel=0.05)


def test_large_drops_slide_down() -> None:
    params = RainProcessParams(arrivals_per_step=0.0)
    big = Drop(100, 50, 0.05 * 512)
    from derain_seg_ros.rain import process

    after, _ = process._step([big], params.drops_from, 256, 512, params, np.random.default_rng(0))
    moved = max(after, key=lambda d: d.area)
    assert moved.y > big.y and len(after) > 1  # moved down and left a trail


def test_same_seed_same_bytes() -> None:
    clean = vertical_gradient(64, 128)
    a, b, c = render_rainy(clean, 3, 9), render_rainy(clean, 3, 9), render_rainy(clean, 4, 9)
    assert np.array_equal(a.rainy, b.rainy) and a.info == b.info
    assert not np.array_equal(a.rainy, c.rainy)
    assert render_rainy(clean, 3, 0).info["phase"] == "dry" and np.array_equal(render_rainy(clean, 3, 0).rainy, clean)
