"""PSNR/SSIM agree with scikit-image; mIoU agrees with a brute-force count."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from derain_seg_ros.losses import ssim
from derain_seg_ros.metrics import ConfusionMatrix, psnr, ssim_metric


def skimage_metrics():
    """scikit-image is a test extra: `colcon test` without it must still collect this file."""
    metrics = pytest.importorskip(
        "skimage.metrics", reason="skimage is a test extra, absent under `colcon test` without it"
    )
    return metrics.peak_signal_noise_ratio, metrics.structural_similarity


def real_looking_pair(seed: int, h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A smooth scene (gradients, shapes, blur, noise) and a degraded copy (streaks, blur)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([120 + 80 * yy / h, 90 + 100 * xx / w, 160 - 60 * yy / h], -1)
    for _ in range(6):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        cv2.rectangle(
            img, tuple(int(v) for v in rng.integers(0, w, 2)), tuple(int(v) for v in rng.integers(0, h, 2)), c, -1
        )
    img = cv2.GaussianBlur(img, (5, 5), 1.2) + rng.normal(0, 4, img.shape)
    clean = np.clip(img, 0, 255).astype(np.uint8)
    rain = np.zeros((h, w), np.float32)
    rain[rng.random((h, w)) < 0.02] = 200
    rain = cv2.filter2D(rain, -1, np.eye(7, dtype=np.float32) / 7)
    degraded = np.clip(cv2.GaussianBlur(clean.astype(np.float32), (3, 3), 0.8) + rain[..., None], 0, 255).astype(
        np.uint8
    )
    return clean, degraded


def random_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (40, 57, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    return a, b


def y_plane(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)[..., 0]


@pytest.mark.parametrize("make", [random_pair, real_looking_pair])
def test_psnr_and_ssim_match_skimage(make) -> None:
    peak_signal_noise_ratio, structural_similarity = skimage_metrics()
    a, b = make(3)
    sk = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    assert psnr(a, b, "rgb") == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-4)
    assert psnr(a, b, "y") == pytest.approx(peak_signal_noise_ratio(y_plane(a), y_plane(b), data_range=255), abs=1e-4)
    assert ssim_metric(a, b, "rgb") == pytest.approx(structural_similarity(a, b, channel_axis=2, **sk), abs=1e-4)
    assert ssim_metric(a, b, "y") == pytest.approx(structural_similarity(y_plane(a), y_plane(b), **sk), abs=1e-4)


def test_loss_ssim_matches_skimage_on_float_images() -> None:
    _, structural_similarity = skimage_metrics()
    a, b = real_looking_pair(5)
    x = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
    y = torch.from_numpy(b).permute(2, 0, 1)[None].float() / 255
    expected = structural_similarity(
        a / 255.0,
        b / 255.0,
        channel_axis=2,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
    )
    assert float(ssim(x, y)) == pytest.approx(expected, abs=1e-4)


def test_identical_images_give_infinite_or_capped_psnr() -> None:
    a, _ = random_pair(1)
    assert psnr(a, a) == math.inf
    assert psnr(a, a, max_db=100.0) == 100.0
    assert ssim_metric(a, a) == pytest.approx(1.0)


def test_metrics_reject_non_uint8_rgb() -> None:
    with pytest.raises(ValueError, match="uint8"):
        psnr(np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 3), np.float32))


def brute_force_miou(pred: np.ndarray, target: np.ndarray, n: int) -> float:
    ious = []
    valid = target != 255
    for c in range(n):
        p, t = (pred == c) & valid, (target == c) & valid
        union = np.logical_or(p, t).sum()
        if union:
            ious.append(np.logical_and(p, t).sum() / union)
    return float(np.mean(ious))


def test_miou_matches_brute_force_and_streams() -> None:
    rng = np.random.default_rng(0)
    target = rng.integers(0, 19, (4, 30, 40))
    target[rng.random(target.shape) < 0.1] = 255
    pred = np.where(rng.random(target.shape) < 0.7, target % 19, rng.integers(0, 19, target.shape))
    whole = ConfusionMatrix()
    whole.update(pred, target)
    assert whole.miou() == pytest.approx(brute_force_miou(pred, target, 19), abs=1e-12)
    parts = [ConfusionMatrix() for _ in range(2)]
    for i in range(4):
        parts[i % 2].update(torch.from_numpy(pred[i]), torch.from_numpy(target[i]))
    parts[0].merge(parts[1])
    assert np.array_equal(parts[0].matrix, whole.matrix)
    assert [name for name, _ in whole.table()][:2] == ["road", "sidewalk"]


def test_absent_classes_are_nan_not_zero() -> None:
    cm = ConfusionMatrix()
    cm.update(np.array([0, 0, 1]), np.array([0, 0, 255]))
    iou = cm.iou()
    assert iou[0] == 1.0 and np.isnan(iou[2])
    assert cm.miou() == 1.0
