"""The rain presets: which renderer turns (clean image, seed, time step) into a rainy frame.

``car`` (the default) renders rain as a car's camera sees it (rain/car.py: a camera model,
defocused windscreen drops, Garg & Nayar streaks, a veil). ``paper`` (also accepted as ``legacy``,
its first name) is the paper's Raindrop-Cityscapes kind (rain/process.py: streaks and sharp drops). ``pane`` is the glass
pane a few centimetres in front of the lens that the paper's real set was taken through (rain/pane.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

import numpy as np

from derain_seg_ros.rain.car import CarRenderer, car_params
from derain_seg_ros.rain.frame import ParamsRenderer, RainFrame
from derain_seg_ros.rain.pane import PaneRenderer, pane_params
from derain_seg_ros.rain.process import RainProcessParams, render_rainy


class RainRenderer(Protocol):
    preset: str
    num_steps: int  # time steps of the rain process; step 0 is dry

    def render(self, clean: np.ndarray, seed: int, time_step: int, layers: bool = True) -> RainFrame:
        """``layers=False``: only the frame and M are needed (synthesis); a renderer may then leave S and V out."""

    def describe(self) -> dict[str, Any]:
        """The renderer's fixed parameters, JSON-ready, for the manifest."""


def _render_paper(clean: np.ndarray, seed: int, time_step: int, params: RainProcessParams, layers: bool) -> RainFrame:
    del layers  # this renderer always has its layers
    return render_rainy(clean, seed, time_step, params)


class PaperRenderer(ParamsRenderer):
    preset = "paper"
    default_params = RainProcessParams
    render_fn = staticmethod(_render_paper)

    def describe(self) -> dict[str, Any]:
        return {"preset": self.preset, **asdict(self.params)}


def _paper(focus: str, camera: str) -> RainRenderer:
    del focus, camera  # the paper's renderer has a fixed look
    return PaperRenderer()


def _car(focus: str, camera: str) -> RainRenderer:
    return CarRenderer(car_params(focus, camera))


def _pane(focus: str, camera: str) -> RainRenderer:
    del focus  # the pane rig's camera focuses on the scene at a small aperture
    return PaneRenderer(pane_params(camera))


PRESETS: dict[str, Callable[[str, str], RainRenderer]] = {
    "car": _car,
    "paper": _paper,
    "legacy": _paper,  # the paper preset's first name
    "pane": _pane,
}


def make_renderer(preset: str = "car", focus: str = "far", camera: str = "car") -> RainRenderer:
    if preset not in PRESETS:
        raise ValueError(f"unknown rain preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[preset](focus, camera)
