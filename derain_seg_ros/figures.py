"""Side-by-side figures: titled panels, label maps in Cityscapes colours with a class legend.

One function serves the demo, the ablation report and the results page, so every figure the
project makes reads the same way (images left to right, ground truth beside prediction).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from derain_seg_ros.fileio import atomic_path  # noqa: E402
from derain_seg_ros.labels import IGNORE_ID, TRAIN_CLASSES, colorize  # noqa: E402

Panel = tuple[str, np.ndarray]  # title, RGB image (H x W x 3) or trainId map (H x W)


def legend_handles(present: set[int] | None = None) -> list[Patch]:
    """A coloured patch per class (only those in ``present`` when given), plus 'ignore' in black."""
    handles = [
        Patch(facecolor=np.array(c.color) / 255, edgecolor="none", label=c.name)
        for c in TRAIN_CLASSES
        if present is None or c.train_id in present
    ]
    if present is None or IGNORE_ID in present:
        handles.append(Patch(facecolor="black", edgecolor="none", label="ignore / void"))
    return handles


def panel_grid(
    rows: Sequence[Sequence[Panel]],
    out_png: str | os.PathLike,
    title: str | None = None,
    legend: bool = True,
    panel_width: float = 3.2,
    dpi: int = 110,
) -> Path:
    """Rows of titled panels; 2-D arrays are label maps (coloured, legend of the classes they show)."""
    out_png = Path(out_png)
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    height, width = rows[0][0][1].shape[:2]
    panel_height = panel_width * height / width
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        squeeze=False,
        figsize=(panel_width * n_cols + (2.2 if legend else 0), (panel_height + 0.35) * n_rows + (0.4 if title else 0)),
    )
    present: set[int] = set()
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.axis("off")
            if c >= len(row):
                continue
            name, image = row[c]
            if image.ndim == 2:
                present.update(int(v) for v in np.unique(image))
                image = colorize(image)
            ax.imshow(image)
            ax.set_title(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    if legend and present:
        fig.legend(
            handles=legend_handles(present),
            loc="center right",
            fontsize=7,
            frameon=False,
            title="classes",
            title_fontsize=8,
        )
    fig.tight_layout(rect=(0, 0, (n_cols * panel_width) / (n_cols * panel_width + 2.2) if legend else 1, 1))
    try:
        with atomic_path(out_png, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    return out_png
