"""Real photos with per-pixel labels in a plain folder layout (CamVid's is the model).

``<root>/<split>/*.png`` beside ``<root>/<split>annot/*.png`` of the same names, whose pixel values
are the dataset's own classes; a value -> trainId table maps them to the 19 Cityscapes trainIds
(255 = ignore). Each image keeps its dataset split: ``split_of`` tells synthesis which of its
items are test frames, so a held-out photo never reaches training under any rain.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from derain_seg_ros.data.io import DatasetNotFoundError, read_gray, read_rgb
from derain_seg_ros.data.synthcity import NamedScene
from derain_seg_ros.labels import IGNORE_ID

# CamVid's 11 classes (SegNet's form; value 11 = void) -> the closest Cityscapes trainId.
CAMVID_TO_TRAIN_ID: dict[int, int] = {0: 10, 1: 2, 2: 5, 3: 0, 4: 1, 5: 8, 6: 7, 7: 4, 8: 13, 9: 11, 10: 12}
CAMVID_CLASSES: tuple[int, ...] = tuple(sorted(CAMVID_TO_TRAIN_ID.values()))  # the trainIds CamVid is scored over
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# The dataset's own split name -> the manifest's (training never reads 'test' items).
MANIFEST_SPLIT = {"train": "train", "val": "test", "test": "test"}


def value_table(mapping: dict[int, int]) -> np.ndarray:
    """A 256-entry lookup: label value -> trainId, everything unmapped -> ignore."""
    table = np.full(256, IGNORE_ID, np.uint8)
    for value, train_id in mapping.items():
        table[value] = train_id
    return table


class LabelledFolderSource:
    """Photos and their label PNGs from ``splits`` of a CamVid-style root, in sorted order per split."""

    kind = "labelled-folder"
    has_labels = True
    named_frames = True

    def __init__(
        self, root: str | os.PathLike, splits: tuple[str, ...] = ("train", "val"), mapping: dict[int, int] | None = None
    ) -> None:
        self.root = Path(root)
        self.table = value_table(CAMVID_TO_TRAIN_ID if mapping is None else mapping)
        self.items: list[tuple[Path, Path, str]] = []
        for split in splits:
            images, labels = self.root / split, self.root / f"{split}annot"
            if not images.is_dir() or not labels.is_dir():
                raise DatasetNotFoundError(
                    f"no labelled split {split!r} under {self.root}: needs {images.name}/ and {labels.name}/"
                )
            for path in sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
                label = labels / f"{path.stem}.png"
                if not label.is_file():
                    raise DatasetNotFoundError(f"label file missing for {path}: {label}")
                self.items.append((path, label, split))
        if not self.items:
            raise DatasetNotFoundError(f"no images in {', '.join(splits)} under {self.root}")

    def __len__(self) -> int:
        return len(self.items)

    def name(self, index: int) -> str:
        return self.items[index][0].stem

    def split_of(self, index: int) -> str:
        """The manifest split of the scene at ``index``: the dataset's own (val and test are held out)."""
        return MANIFEST_SPLIT.get(self.items[index][2], "test")

    def scene(self, index: int) -> NamedScene:
        image_path, label_path, _ = self.items[index]
        label = self.table[read_gray(label_path)]
        image = read_rgb(image_path)
        if label.shape != image.shape[:2]:
            raise DatasetNotFoundError(
                f"{label_path} is {label.shape[1]}x{label.shape[0]}, its image {image.shape[1]}x{image.shape[0]}"
            )
        return NamedScene(self.name(index), image, label)
