"""Cityscapes in its official layout: leftImg8bit/<split>/<city>/*_leftImg8bit.png with
gtFine/<split>/<city>/*_gtFine_labelIds.png, labels mapped to the 19 trainIds (255 = void)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from derain_seg_ros.data.io import DatasetNotFoundError, read_gray, read_rgb
from derain_seg_ros.data.synthcity import NamedScene
from derain_seg_ros.labels import label_ids_to_train_ids

SPLITS = ("train", "val", "test", "train_extra")
PAPER_COLUMNS = (64, 1984)  # of 2048: the paper's 1024 x 1920 crop


class CityscapesSource(Sequence[NamedScene]):
    kind = "cityscapes"
    named_frames = True

    def __init__(
        self, root: str | os.PathLike, split: str = "train", crop_columns: bool = False, require_labels: bool = True
    ) -> None:
        self.root = Path(root)
        splits = [s for s in SPLITS if (self.root / "leftImg8bit" / s).is_dir()] if split == "all" else [split]
        if not (self.root / "leftImg8bit").is_dir():
            raise DatasetNotFoundError(f"no Cityscapes here: {self.root / 'leftImg8bit'} does not exist")
        for s in splits:
            if not (self.root / "leftImg8bit" / s).is_dir():
                raise DatasetNotFoundError(f"Cityscapes split {s!r} not found under {self.root / 'leftImg8bit'}")
        self.images = sorted(p for s in splits for p in (self.root / "leftImg8bit" / s).glob("*/*_leftImg8bit.png"))
        if not self.images:
            raise DatasetNotFoundError(f"no *_leftImg8bit.png under {self.root / 'leftImg8bit'} for split {split!r}")
        self.crop_columns, self.require_labels = crop_columns, require_labels
        self.has_labels = require_labels

    def label_path(self, image_path: Path) -> Path:
        split, city = image_path.parent.parent.name, image_path.parent.name
        stem = image_path.name[: -len("_leftImg8bit.png")]
        return self.root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png"

    def __len__(self) -> int:
        return len(self.images)

    def name(self, index: int) -> str:
        """The frame's name (``<city>_<seq>_<frame>``) without reading it."""
        return self.images[index].name[: -len("_leftImg8bit.png")]

    def __getitem__(self, index: int) -> NamedScene:  # type: ignore[override]
        return self.scene(index)

    def scene(self, index: int) -> NamedScene:
        path = self.images[index]
        image = read_rgb(path)
        label_path = self.label_path(path)
        if label_path.is_file():
            label = label_ids_to_train_ids(read_gray(label_path))
        elif self.require_labels:
            raise DatasetNotFoundError(f"label file missing for {path.name}: {label_path}")
        else:
            label = None
        if self.crop_columns:
            image, label = crop_paper_columns(image), None if label is None else crop_paper_columns(label)
        return NamedScene(self.name(index), image, label)


def crop_paper_columns(array: np.ndarray) -> np.ndarray:
    """Columns 64:1984 of a 2048-wide frame (drops the rectification borders); other widths scale."""
    width = array.shape[1]
    start, stop = (round(c * width / 2048) for c in PAPER_COLUMNS)
    return array[:, start:stop]
