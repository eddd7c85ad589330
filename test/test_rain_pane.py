"""The glass-pane rig (RobotCar(R)'s kind): large, dense, nearly sharp drops; deterministic; the formation model holds."""

from __future__ import annotations

import numpy as np
import pytest

from derain_seg_ros.rain.pane import PaneRainParams, draw_drops, draw_setup, render_pane_rain
from derain_seg_ros.rain.renderers import make_renderer


def _scene(h: int = 90, w: int = 120) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([(xx * 2) % 256, (yy * 3) % 256, ((xx + yy) * 5) % 256], -1).astype(np.uint8)


def test_same_seed_same_bytes_and_step_zero_is_dry() -> None:
    renderer = make_renderer("pane")
    a, b = renderer.render(_scene(), 7, 5), renderer.render(_scene(), 7, 5)
    assert np.array_equal(a.rainy, b.rainy)
    assert not np.array_equal(a.rainy, renderer.render(_scene(), 8, 5).rainy)
    assert np.array_equal(renderer.render(_scene(), 7, 0).rainy, _scene())


def test_coverage_grows_over_the_steps_and_reaches_the_drawn_share() -> None:
    p = PaneRainParams()
    covered = [float(render_pane_rain(_scene(), 3, t, p).drop_alpha.mean()) for t in range(p.num_steps)]
    assert covered[0] == 0 and all(b >= a for a, b in zip(covered, covered[1:], strict=False))
    target = draw_setup(3, p).coverage
    assert 0.6 * target < covered[-1] < 1.6 * target


def test_drops_are_large_and_rest_side_by_side() -> None:
    p = PaneRainParams()
    setup = draw_setup(11, p)
    drops = draw_drops(11, setup, 360, 480, p)
    frame = render_pane_rain(np.full((360, 480, 3), 128, np.uint8), 11, p.num_steps - 1, p)
    diameters = frame.info["drops"]["diameter_frac"]
    assert 0.02 < diameters["median"] < 0.09 and diameters["max"] <= 0.2  # most drops 3-6 % of the width across
    gaps = np.hypot(drops.x[:, None] - drops.x[None], drops.y[:, None] - drops.y[None]) - (
        drops.radius[:, None] + drops.radius[None]
    )
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() > 0


def test_frame_is_the_formation_model() -> None:
    """I_r = (1 - M) I + R, no streaks or veil: the pane is sprayed, not rained through."""
    clean = _scene()
    frame = render_pane_rain(clean, 5, 5, PaneRainParams())
    rebuilt = (1 - frame.drop_alpha)[..., None] * clean / 255.0 + frame.drops
    assert np.abs(np.rint(rebuilt * 255) - frame.rainy.astype(np.float64)).max() <= 1
    assert not np.abs(frame.streaks).any() and not np.abs(frame.veil).any()


@pytest.mark.parametrize("name", ["paper", "legacy"])
def test_the_papers_kind_has_both_names(name: str) -> None:
    assert make_renderer(name).preset == "paper"
