"""Evaluation metrics: PSNR and SSIM (Y channel, the paper's convention, and RGB) and mIoU.

Every report names its convention: Y-channel PSNR runs about 1 dB above RGB PSNR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np
import torch

from derain_seg_ros.labels import IGNORE_ID, NUM_CLASSES, TRAIN_NAMES
from derain_seg_ros.losses import ssim

Channel = Literal["y", "rgb"]


def _planes(image: np.ndarray, channel: Channel) -> np.ndarray:
    """uint8 H x W x 3 RGB -> float64 H x W x C: OpenCV YCrCb's Y (as the authors), or RGB."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 H x W x 3 RGB image, got {image.dtype} {image.shape}")
    if channel == "y":
        return cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)[..., :1].astype(np.float64)
    if channel == "rgb":
        return image.astype(np.float64)
    raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")


PSNR_CAP_DB = 100.0  # identical images have infinite PSNR; averages (reports, stage selection) use this cap


def psnr(a: np.ndarray, b: np.ndarray, channel: Channel = "y", max_db: float | None = None) -> float:
    """PSNR in dB on the 0..255 scale; identical images give inf unless ``max_db`` caps it."""
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    mse = float(np.mean((_planes(a, channel) - _planes(b, channel)) ** 2))
    value = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    return min(value, max_db) if max_db is not None else value


def ssim_metric(a: np.ndarray, b: np.ndarray, channel: Channel = "y") -> float:
    """SSIM (Gaussian window 11, sigma 1.5, mean over channels): the same code as the loss."""
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    x = torch.from_numpy(_planes(a, channel)).permute(2, 0, 1)[None]
    y = torch.from_numpy(_planes(b, channel)).permute(2, 0, 1)[None]
    return float(ssim(x, y, data_range=255.0))


class ConfusionMatrix:
    """Streaming confusion matrix over trainIds (rows: ground truth, columns: prediction)."""

    def __init__(self, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE_ID) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, pred: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor) -> None:
        pred = _as_numpy(pred).ravel().astype(np.int64)
        target = _as_numpy(target).ravel().astype(np.int64)
        if pred.shape != target.shape:
            raise ValueError(f"prediction and target differ in size: {pred.size} vs {target.size}")
        keep = (target != self.ignore_index) & (target >= 0) & (target < self.num_classes)
        if np.any((pred[keep] < 0) | (pred[keep] >= self.num_classes)):
            raise ValueError("prediction holds class ids outside [0, num_classes)")
        index = target[keep] * self.num_classes + pred[keep]
        self.matrix += np.bincount(index, minlength=self.num_classes**2).reshape(self.num_classes, self.num_classes)

    def merge(self, other: ConfusionMatrix) -> None:
        self.matrix += other.matrix

    def iou(self) -> np.ndarray:
        """Per-class IoU; NaN for a class absent from both prediction and ground truth."""
        tp = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / union, np.nan)

    def miou(self, classes: Sequence[int] | None = None) -> float:
        """Mean over the classes that occur (Cityscapes protocol: nanmean), or over ``classes`` only:
        a dataset scored over the classes it has (CamVid's 11), where a class it never labels would
        otherwise count as 0 whenever the model predicts it. Such predictions still cost the true
        class its IoU."""
        iou = self.iou() if classes is None else self.iou()[list(classes)]
        return float(np.nanmean(iou)) if np.any(~np.isnan(iou)) else math.nan

    def table(self) -> list[tuple[str, float]]:
        names = TRAIN_NAMES if self.num_classes == NUM_CLASSES else tuple(str(i) for i in range(self.num_classes))
        return list(zip(names, self.iou().tolist(), strict=True))


def _as_numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
