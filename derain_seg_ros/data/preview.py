"""Contact sheets of the rain: the rain figure (docs/preview.png) on a synthcity scene, and real frames under every density and focus.

Both go through the same renderer and scene sources as ``derain-seg synth``, so what the sheet
shows is what a dataset holds.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import cv2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from derain_seg_ros.data.sources import open_source  # noqa: E402
from derain_seg_ros.data.synth_spec import SynthSpec  # noqa: E402
from derain_seg_ros.data.synthcity import generate_scene  # noqa: E402
from derain_seg_ros.fileio import atomic_path  # noqa: E402
from derain_seg_ros.rain import seeds  # noqa: E402
from derain_seg_ros.rain.car import DENSITIES, CarRenderer, car_params  # noqa: E402
from derain_seg_ros.rain.pane import PaneRenderer, pane_params  # noqa: E402
from derain_seg_ros.rain.renderers import make_renderer  # noqa: E402

DENSITY_NAMES = tuple(DENSITIES)


def _save(fig: plt.Figure, out_png: Path) -> Path:
    try:
        with atomic_path(out_png, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return out_png


def _grid(panels: list[list[tuple[np.ndarray, str]]], height: int, width: int) -> plt.Figure:
    rows, cols = len(panels), max(len(r) for r in panels)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, rows * 3.2 * height / width + 0.45 * rows), squeeze=False)
    for ax_row, row in zip(axes, panels, strict=True):
        for ax, (image, title) in zip(ax_row, row, strict=False):
            ax.imshow(image)
            ax.set_title(title, fontsize=7)
        for ax in ax_row:
            ax.axis("off")
    fig.tight_layout()
    return fig


def _title(frame_info: dict, focus: str) -> str:
    drops = frame_info.get("drops") or {}
    return (
        f"{frame_info.get('density')}, {frame_info.get('rain_mmh')} mm/h, focus {focus}: "
        f"{drops.get('rendered', 0)} drops, {frame_info.get('streaks', {}).get('count', 0)} streaks"
    )


def make_preview(
    out_png: str | os.PathLike, seed: int = 0, height: int = 256, width: int = 512, camera: str = "car"
) -> Path:
    """One synthcity scene: the three densities with the road in focus, the rain process over time, the glass in
    focus, and the other presets (paper, pane)."""
    scene = generate_scene(seed, height, width)
    far, glass = CarRenderer(car_params("far", camera)), CarRenderer(car_params("glass", camera))
    last = far.num_steps - 1
    rain_seed = seeds.stream_int(seed, 0, seeds.RAIN)
    dense = [(d, far.with_density(d).render(scene.image, rain_seed, last)) for d in DENSITY_NAMES]
    over_time = far.with_density("medium")
    steps = (1, 3, 6, last)
    process = [(t, over_time.render(scene.image, rain_seed, t)) for t in steps]
    on_glass = [(d, glass.with_density(d).render(scene.image, rain_seed, last)) for d in DENSITY_NAMES]
    panels = [
        [(scene.image, "clean")] + [(f.rainy, _title(f.info, "far")) for _, f in dense],
        [
            (
                f.rainy,
                f"medium rain, step {t}: {f.info['phase']}, {f.info['drops']['rendered'] if f.info.get('drops') else 0} drops",
            )
            for t, f in process
        ],
        [(_zoom(dense[-1][1].rainy), "heavy, far focus: centre x2")]
        + [(f.rainy, _title(f.info, "glass")) for _, f in on_glass],
        other_presets(scene.image, rain_seed, camera),
    ]
    return _save(_grid(panels, height, width), Path(out_png))


def other_presets(image: np.ndarray, rain_seed: int, camera: str) -> list[tuple[np.ndarray, str]]:
    """The paper's kind (streaks and sharp drops) and the glass-pane rig (RobotCar(R)): light to full pane."""
    paper = make_renderer("paper")
    pane = PaneRenderer(pane_params(camera))
    row = [(paper.render(image, rain_seed, paper.num_steps - 1).rainy, "paper preset (Raindrop-Cityscapes kind)")]
    for step in (2, pane.num_steps - 1):
        frame = pane.render(image, rain_seed + step, step)
        row.append(
            (
                frame.rainy,
                f"pane rig, step {step}: {frame.info['drops']['count']} drops, "
                f"{100 * frame.info['drops']['area_fraction']:.0f} % covered",
            )
        )
    row.append((_zoom(row[-1][0]), "pane rig: centre x2"))
    return row


def _zoom(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    crop = image[h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2]
    return cv2.resize(crop, (w, h), interpolation=cv2.INTER_NEAREST)


def make_source_sheet(out_png: str | os.PathLike, spec: SynthSpec, count: int = 3) -> Path:
    """``count`` frames of any scene source, evenly spaced, under light/medium/heavy rain, road in focus then glass in focus.

    The sheet is written where asked (keep real footage out of the repository).
    """
    source = open_source(replace(spec, count=max(spec.count, 1)))
    picks = np.linspace(0, len(source) - 1, min(count, len(source))).round().astype(int)
    renderers = {focus: CarRenderer(car_params(focus, spec.camera)) for focus in ("far", "glass")}
    panels: list[list[tuple[np.ndarray, str]]] = []
    height = width = 0
    for k, index in enumerate(picks):
        scene = source.scene(int(index))
        image = scene.image
        if spec.height and spec.width:
            image = cv2.resize(image, (spec.width, spec.height), interpolation=cv2.INTER_AREA)
        height, width = image.shape[:2]
        rain_seed = seeds.stream_int(spec.seed, k, seeds.RAIN)
        row = [(image, f"{scene.name} (clean)")]
        for focus, renderer in renderers.items():
            for density in DENSITY_NAMES:
                frame = renderer.with_density(density).render(image, rain_seed, renderer.num_steps - 1)
                row.append((frame.rainy, _title(frame.info, focus)))
        panels.append(row)
    return _save(_grid(panels, height, width), Path(out_png))
