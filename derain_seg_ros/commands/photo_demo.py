"""``derain-seg demo --photos DIR``: the model on real photos under every rain kind.

Each photo (dry, real) is put under the ``car``, ``paper`` and ``pane`` rain (rain/renderers.py,
seeded) and through the model; the sheet shows, per photo and rain kind, rainy | derained | dry
photo above and the labels on the rainy frame (the segmenter alone) | on the derained frame | on
the dry photo below. The dry photo also goes through the model on its own (do no harm): its PSNR
against itself is in ``scores.json``. The photos have no labels, so the labels on the dry photo
are the reference a user compares with.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from derain_seg_ros.data.io import PHOTO_SUFFIXES, ImageFileError, read_rgb, write_png
from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.fileio import atomic_write_bytes
from derain_seg_ros.metrics import PSNR_CAP_DB, psnr
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.rain.renderers import make_renderer

log = logging.getLogger(__name__)
RAIN_KINDS = ("car", "paper", "pane")


def photos_in(folder: Path, size: tuple[int, int] | None) -> list[tuple[str, np.ndarray]]:
    """The readable photos of ``folder`` (sorted; unreadable ones skipped with a line), resized to ``size`` (H, W)."""
    if not folder.is_dir():
        raise DerainSegError(f"--photos: no such folder {folder}")
    photos = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file()):
        try:
            image = read_rgb(path)
        except ImageFileError as exc:
            log.warning("skipped: %s", exc)
            continue
        if size is not None:
            image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        photos.append((path.stem, image))
    if not photos:
        raise DerainSegError(f"--photos: no readable {'/'.join(PHOTO_SUFFIXES)} images in {folder}")
    return photos


def photo_demo(
    engine: Any, pipeline: DerainSegPipeline, folder: Path, out: Path, seed: int, size: tuple[int, int] | None
) -> Path:
    """Write the sheet, every image and ``scores.json`` under ``out``; return the sheet's path."""
    from derain_seg_ros.figures import panel_grid
    from derain_seg_ros.runtime.segment_only import segment

    rows: list[list[tuple[str, np.ndarray]]] = []
    scores: dict[str, Any] = {}
    for name, photo in photos_in(folder, size):
        dry = engine.infer([photo])
        scores[name] = {"dry_psnr_rgb": _finite(psnr(dry.derained[0], photo, "rgb", max_db=PSNR_CAP_DB))}
        write_png(out / f"{name}_labels_dry.png", dry.labels[0])
        for kind in RAIN_KINDS:
            renderer = make_renderer(kind)
            rainy = renderer.render(photo, seed, renderer.num_steps - 1, layers=False).rainy
            result = engine.infer([rainy])
            derained, labels, rainy_labels = result.derained[0], result.labels[0], segment(pipeline, rainy)
            before, after = psnr(rainy, photo, "rgb"), psnr(derained, photo, "rgb")
            scores[name][kind] = {"psnr_rgb_rainy": before, "psnr_rgb_derained": after}
            for key, image in (
                ("rainy", rainy),
                ("derained", derained),
                ("labels_derained", labels),
                ("labels_rainy", rainy_labels),
            ):
                write_png(out / f"{name}_{kind}_{key}.png", image)
            rows.append(
                [
                    (f"{name}, {kind} rain ({before:.1f} dB)", rainy),
                    (f"derained ({after:.1f} dB)", derained),
                    ("dry photo", photo),
                ]
            )
            rows.append(
                [
                    ("labels on rainy (no deraining)", rainy_labels),
                    ("labels on derained", labels),
                    ("labels on the dry photo", dry.labels[0]),
                ]
            )
    atomic_write_bytes(out / "scores.json", json.dumps(scores, indent=1, allow_nan=False).encode())
    return panel_grid(
        rows, out / "sheet.png", title="Real photos under each rain kind (RGB PSNR against the dry photo)"
    )


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None
