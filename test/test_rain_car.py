"""The car preset: the formation model, streak opacity bounds, the veil, the drops' process, determinism."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from derain_seg_ros.rain import seeds
from derain_seg_ros.rain.camera import parse_camera
from derain_seg_ros.rain.car import DENSITIES, CarRainParams, CarRenderer, car_params, draw_storm, simulate_glass
from derain_seg_ros.rain.falling_rain import StreakConditions, opacity_bound, render_streak_opacity, terminal_speed
from derain_seg_ros.rain.glass_process import GlassDropParams, GlassDrops, merge_touching, step_drops
from derain_seg_ros.rain.veil import VeilParams, atmosphere, wet_glass


def street(h: int = 48, w: int = 96) -> np.ndarray:
    """Bright sky over a dark road with a white line: enough structure for refraction and contrast."""
    image = np.zeros((h, w, 3), np.uint8)
    image[: h // 2] = (150, 180, 220)
    image[h // 2 :] = (70, 70, 75)
    image[h // 2 :, w // 2 - 2 : w // 2 + 2] = 240
    return image


def test_car_frames_are_the_formation_model_exactly() -> None:
    clean = street()
    frame = CarRenderer(car_params()).with_density("heavy").render(clean, 4, 11)
    m = frame.drop_alpha[..., None]
    assert frame.drop_mask.any() and 0 < frame.drop_alpha.max() <= 1
    recomposed = (1 - m) * clean / 255.0 + frame.drops + frame.streaks + frame.veil
    assert np.array_equal(np.clip(np.rint(recomposed * 255), 0, 255).astype(np.uint8), frame.rainy)
    assert np.abs(frame.veil).max() > 0.01  # heavy rain: the veil is a real term


def test_same_seed_same_bytes_and_the_dry_step_is_clean() -> None:
    clean = street()
    renderer = CarRenderer(car_params())
    a, b, c = renderer.render(clean, 3, 9), renderer.render(clean, 3, 9), renderer.render(clean, 4, 9)
    assert np.array_equal(a.rainy, b.rainy) and a.info == b.info
    assert not np.array_equal(a.rainy, c.rainy)
    dry = renderer.render(clean, 3, 0)
    assert dry.info["phase"] == "dry" and np.array_equal(dry.rainy, clean)


def test_the_manifest_record_names_camera_drops_streaks_veil_and_focus() -> None:
    info = CarRenderer(car_params("glass", "hfov=90")).with_density("medium").render(street(), 1, 11).info
    assert info["focus"] == "glass" and info["camera"]["hfov_deg"] == pytest.approx(90.0)
    assert info["drops"]["count"] > 0 and info["drops"]["radius_mm"]["max"] <= 2 * GlassDropParams().max_radius_mm
    assert info["streaks"]["exposure_ms"] > 0 and info["veil"]["scatter"] > 0 and info["density"] == "medium"


@pytest.mark.parametrize("density", list(DENSITIES))
@pytest.mark.parametrize("focus", ["far", "glass"])
def test_streak_opacity_stays_within_its_bound_at_every_preset(density: str, focus: str) -> None:
    p = replace(car_params(focus), density=density)
    bound = p.max_streak_opacity()
    assert bound <= 0.35  # one streak never hides more than about a third of what is behind it
    camera = parse_camera("car")
    cond = StreakConditions(DENSITIES[density][0], p.exposure_ms[0] / 1000, 20.0, 3.0, p.streak_gain)
    alpha, stats = render_streak_opacity(120, 240, camera, p.focus_m, cond, np.random.default_rng(0))
    assert stats.count > 0 and stats.max_streak_alpha <= bound + 1e-6
    assert alpha.max() <= 1 - (1 - bound) ** cond.slabs  # drops in different slabs add their exposure fractions
    assert np.percentile(alpha, 99) < bound  # and almost every pixel stays below one streak's bound


def test_garg_nayar_bound_is_the_fall_time_of_a_drop_over_the_exposure() -> None:
    tau = 6e-3 / float(terminal_speed(6.0))  # the largest drop: ~0.64 ms to fall its own diameter
    assert tau == pytest.approx(0.64e-3, rel=0.02)
    assert opacity_bound(0.01) == pytest.approx(np.pi / 4 * tau / 0.01, rel=0.01)
    assert opacity_bound(0.004) > opacity_bound(0.008)  # longer exposures dilute streaks


def _contrast(image: np.ndarray) -> float:
    grey = image.mean(axis=2)
    return float(grey.std() / grey.mean())


def test_the_veil_lowers_contrast_monotonically_with_density() -> None:
    h, w = 64, 128
    board = (((np.arange(h)[:, None] // 8 + np.arange(w)[None] // 8) % 2) * 0.7 + 0.15).astype(np.float32)
    image = np.repeat(board[..., None], 3, axis=2)
    camera = parse_camera("car")
    contrasts = [_contrast(image)]
    for density in DENSITIES:
        veil = VeilParams.for_rain(DENSITIES[density][0])
        hazed, _, _ = atmosphere(image, camera, veil)
        contrasts.append(_contrast(wet_glass(hazed, veil)))
    assert all(a > b for a, b in zip(contrasts, contrasts[1:])), contrasts


def test_a_storm_is_drawn_once_per_sequence_and_pinned_by_a_density() -> None:
    p = CarRainParams()
    assert draw_storm(5, p) == draw_storm(5, p)
    peaks = {draw_storm(s, p).peak_mmh for s in range(40)}
    assert len(peaks) == 40 and min(peaks) >= 1.0 and max(peaks) <= 60.0
    assert draw_storm(5, replace(p, density="heavy")).peak_mmh == DENSITIES["heavy"][0]


def test_drops_accumulate_on_the_glass_and_are_the_same_at_every_resolution() -> None:
    p = replace(CarRainParams(), density="medium")
    small, large = simulate_glass(2, 11, 32, 64, p), simulate_glass(2, 11, 128, 256, p)
    assert all(len(h) == 0 for h in small[: p.drops_from])
    assert len(small[-1]) > len(small[p.drops_from]) > 0
    assert np.array_equal(small[-1].radius, large[-1].radius) and np.array_equal(small[-1].x, large[-1].x)


def test_merging_keeps_the_area_and_large_drops_slide_down() -> None:
    drops = GlassDrops(
        np.array([0.0, 0.0015, 0.03, 0.0305, 0.06]),
        np.zeros(5),
        np.array([1e-3, 1e-3, 4e-4, 4e-4, 5e-4]),
        np.zeros(5, np.int64),
        np.arange(5),
        np.ones(5),
    )
    merged = merge_touching(drops)
    assert len(merged) == 3
    assert float((merged.radius**2).sum()) == pytest.approx(float((drops.radius**2).sum()))
    big = GlassDrops(
        np.array([0.0]), np.array([0.0]), np.array([3e-3]), np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1)
    )
    after = step_drops(big, 0.0, (-0.1, 0.1, -0.1, 0.1), GlassDropParams(), seeds.stream_rng(0, 0, seeds.DROPS))
    largest = int(np.argmax(after.radius))
    assert after.y[largest] > 0 and len(after) > 1  # it ran down the slope and left a trail
