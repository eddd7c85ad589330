"""Paired real rain: Porav et al.'s RobotCar set.

The RobotCar rain set is distributed as ``left/left_<ts>.png``, ``right/right_<ts>.png`` and
``mask/mask_<ts>.png`` (920 x 690). One lens of the stereo pair was wetted; sources disagree on
which, so ``wet_side`` says it (default 'right', as in the dataset's own description).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from derain_seg_ros.data.io import DatasetNotFoundError, read_gray, read_rgb

log = logging.getLogger(__name__)


class PairedSample(NamedTuple):
    name: str
    rainy: np.ndarray
    clean: np.ndarray
    mask: np.ndarray | None
    label: np.ndarray | None


def files_by_stamp(folder: Path, prefix: str) -> dict[str, Path]:
    """RobotCar(R) names each frame ``<prefix>_<stamp>.png``; the stamp pairs the two lenses."""
    pattern = re.compile(rf"^{prefix}_(.+)\.png$")
    return {m.group(1): p for p in folder.glob(f"{prefix}_*.png") if (m := pattern.match(p.name))}


class RobotCarRainSource(Sequence[PairedSample]):
    def __init__(
        self, root: str | os.PathLike, wet_side: str = "right", labels_dir: str | os.PathLike | None = None
    ) -> None:
        if wet_side not in ("left", "right"):
            raise ValueError(f"wet_side must be 'left' or 'right', got {wet_side!r}")
        self.root = Path(root)
        dry_side = "left" if wet_side == "right" else "right"
        for sub in ("left", "right"):
            if not (self.root / sub).is_dir():
                raise DatasetNotFoundError(f"RobotCar rain set: {self.root / sub} does not exist")
        wet, dry = files_by_stamp(self.root / wet_side, wet_side), files_by_stamp(self.root / dry_side, dry_side)
        masks = files_by_stamp(self.root / "mask", "mask") if (self.root / "mask").is_dir() else {}
        self.unmatched = sorted(set(wet) ^ set(dry))
        if self.unmatched:
            log.warning(
                "RobotCar: %d frames without a partner, skipped (e.g. %s)", len(self.unmatched), self.unmatched[:3]
            )
        self.stamps = sorted(set(wet) & set(dry))
        self.wet, self.dry, self.masks = wet, dry, masks
        self.labels_dir = Path(labels_dir) if labels_dir else None

    def __len__(self) -> int:
        return len(self.stamps)

    def __getitem__(self, index: int) -> PairedSample:  # type: ignore[override]
        ts = self.stamps[index]
        mask = read_gray(self.masks[ts]) if ts in self.masks else None
        label = _pseudo_label(self.labels_dir, ts)
        return PairedSample(ts, read_rgb(self.wet[ts]), read_rgb(self.dry[ts]), mask, label)


def _pseudo_label(labels_dir: Path | None, stem: str) -> np.ndarray | None:
    if labels_dir is None:
        return None
    path = labels_dir / f"{stem}.png"
    return read_gray(path) if path.is_file() else None
