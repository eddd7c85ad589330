"""The torch Dataset over Raindrop-Cityscapes: {rainy, clean, rain_mask, label, name}.

Images stay uint8 here; training converts batches on its device with the runtime's one
preprocessing (``to_float_nchw``), so training and deployment see identical inputs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from derain_seg_ros.data.raindrop_cityscapes import load_manifest, read_item
from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.labels import IGNORE_ID


class EmptySplitError(DerainSegError, ValueError):
    """A dataset with no item in the split asked for (a small --count puts every item in train)."""


class RaindropCityscapesDataset(Dataset):
    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        crop: tuple[int, int] | None = None,
        flip: bool = False,
        halves: bool = False,
        seed: int = 0,
        scale: tuple[float, float] | None = None,
    ) -> None:
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be train, test or all, got {split!r}")
        self.root = Path(root)
        manifest = load_manifest(self.root)
        self.items = [it for it in manifest["items"] if split == "all" or it["split"] == split]
        if not self.items:
            raise EmptySplitError(f"dataset {self.root} has no {split!r} items ({len(manifest['items'])} in all)")
        self.crop, self.flip, self.halves, self.seed, self.scale = crop, flip, halves, seed, scale
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Crops and flips depend on (seed, epoch, index): resumable and identical across workers."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items) * (2 if self.halves else 1)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.items[index // 2 if self.halves else index]
        arrays = read_item(self.root, item)
        stack = [arrays["rainy"], arrays["clean"], arrays["mask"][..., None], arrays["label"][..., None]]
        name = item["name"]
        if self.halves:  # the paper tests on the two halves of each frame
            w = stack[0].shape[1] // 2
            side = index % 2
            stack = [a[:, side * w : (side + 1) * w] for a in stack]
            name += "_R" if side else "_L"
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, index]))
        if self.scale is not None:
            stack = _random_scale(stack, self.scale, rng)
        if self.crop is not None:
            stack = _random_crop(stack, self.crop, rng)
        if self.flip and rng.random() < 0.5:
            stack = [a[:, ::-1] for a in stack]
        rainy, clean, mask, label = (np.ascontiguousarray(a) for a in stack)
        return {
            "rainy": torch.from_numpy(rainy),
            "clean": torch.from_numpy(clean),
            "rain_mask": torch.from_numpy(mask[..., 0]),
            "label": torch.from_numpy(label[..., 0].astype(np.int64)),
            "name": name,
        }


def _random_scale(stack: list[np.ndarray], bounds: tuple[float, float], rng: np.random.Generator) -> list[np.ndarray]:
    """Resize every array by one factor drawn uniformly in ``bounds`` (images area/linear, the mask and
    labels nearest): objects at other distances than the few hundred photos show."""
    factor = float(rng.uniform(*bounds))
    h, w = stack[0].shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    smooth = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    out = [cv2.resize(a, size, interpolation=smooth if i < 2 else cv2.INTER_NEAREST) for i, a in enumerate(stack)]
    return [a if a.ndim == 3 else a[..., None] for a in out]


def _random_crop(stack: list[np.ndarray], size: tuple[int, int], rng: np.random.Generator) -> list[np.ndarray]:
    """One crop window for all arrays; frames smaller than the crop are padded (labels with 255)."""
    ch, cw = size
    h, w = stack[0].shape[:2]
    if h < ch or w < cw:
        pad = ((0, max(0, ch - h)), (0, max(0, cw - w)), (0, 0))
        fills = (0, 0, 0, IGNORE_ID)
        stack = [np.pad(a, pad, constant_values=fill) for a, fill in zip(stack, fills, strict=True)]
        h, w = stack[0].shape[:2]
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return [a[y : y + ch, x : x + cw] for a in stack]
