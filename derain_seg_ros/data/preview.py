"""Contact sheet for the README: one scene through the rain process, and the streak densities."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from derain_seg_ros.data.synthcity import generate_scene  # noqa: E402
from derain_seg_ros.fileio import atomic_path  # noqa: E402
from derain_seg_ros.rain.compose import compose  # noqa: E402
from derain_seg_ros.rain.process import RainProcessParams, render_rainy  # noqa: E402
from derain_seg_ros.rain.streaks import StreakParams, render_streaks  # noqa: E402


def make_preview(out_png: str | os.PathLike, seed: int = 0, height: int = 256, width: int = 512,
                 steps: tuple[int, ...] = (0, 2, 4, 7, 11)) -> Path:
    out_png = Path(out_png)
    params = RainProcessParams()
    scene = generate_scene(seed, height, width)
    frames = [render_rainy(scene.image, seed, t, params) for t in steps]
    densities = ("light", "medium", "heavy")
    no_drops = np.zeros((height, width), bool)
    streaked = [compose(scene.image, no_drops, np.zeros((height, width, 3), np.float32),
                        render_streaks(height, width, StreakParams.preset(d), np.random.default_rng(seed)))
                for d in densities]
    cols = len(steps)
    fig, axes = plt.subplots(2, cols, figsize=(3.2 * cols, 2 * 1.8 * height / width * 1.8 + 0.8), squeeze=False)
    for ax, frame, t in zip(axes[0], frames, steps, strict=True):
        ax.imshow(frame.rainy)
        ax.set_title(f"t={t}: {frame.info['phase']}, {frame.info['drops']} drops", fontsize=8)
    for ax, image, name in zip(axes[1], [scene.image, *streaked], ["clean", *densities], strict=False):
        ax.imshow(image)
        ax.set_title(f"streaks: {name}" if name != "clean" else "clean", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    try:
        with atomic_path(out_png, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return out_png
