"""The paper's losses (docs/paper.md), differentiable, on images in [0, 1].

Every training variant of Table 1 is one ``LossWeights``: which terms count and how much, so the
one-stage and two-stage trainings are configurations, not copies of a loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from derain_seg_ros.nets.outputs import SegmentationOutput


@lru_cache(maxsize=8)
def _gaussian_window(size: int, sigma: float, dtype: torch.dtype, device: str) -> Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def ssim(x: Tensor, y: Tensor, window_size: int = 11, sigma: float = 1.5, data_range: float = 1.0) -> Tensor:
    """Mean SSIM of N x C x H x W images, per channel then averaged.

    Matches scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)``: a separable Gaussian window, population statistics, and only
    the 'valid' region (skimage crops the border the window overhangs).
    """
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(
            f"ssim expects two N x C x H x W tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    channels = x.shape[1]
    g = _gaussian_window(window_size, sigma, x.dtype, str(x.device))
    kernel_h = g.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    kernel_v = g.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(t, kernel_h, groups=channels), kernel_v, groups=channels)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.mean()


def attention_loss(attention: Tensor, mask_target: Tensor) -> Tensor:
    """L_Att, eq. (1)."""
    return F.mse_loss(attention, mask_target)


def derain_loss(x: Tensor, y: Tensor, alpha: float = 0.85) -> Tensor:
    """L_D, eq. (2): alpha (1 - SSIM) + (1 - alpha) L1."""
    return alpha * (1 - ssim(x, y)) + (1 - alpha) * F.l1_loss(x, y)


LOG_MSE_EPS = 1e-5
"""Default floor of the per-image MSE in ``log_mse_loss`` (50 dB): closer to clean than that an
image's pull stops growing. Measured at a quarter budget (docs/results.md, "The log-MSE term"): a floor of
1e-6 lets the dry items' gradient (1 / MSE) drown the rainy ones', 1e-4 protects nearly dry
frames too little."""


def log_mse_loss(x: Tensor, y: Tensor, eps: float = LOG_MSE_EPS) -> Tensor:
    """Mean over the images of ln(MSE_i + eps), i.e. -(ln 10 / 10) x the mean per-image PSNR.

    Not in the paper: the scores are means of per-image PSNR, a log scale, on which an error of
    1/255 costs a nearly dry frame many dB and a heavy-rain frame almost nothing; L1 and SSIM weigh
    the two alike. Each image's gradient is scaled by 1 / (MSE_i + eps), so the frames already
    close to clean (light rain, dry weather) are the ones the term protects (HINet's PSNR loss).
    """
    per_image = (x.float() - y.float()).pow(2).flatten(1).mean(dim=1)
    return torch.log(per_image + eps).mean()


def refine_loss(refined: list[Tensor], clean: Tensor, alpha: float = 0.85) -> Tensor:
    """L_R, eq. (3) as we read it: 0.5 * MSE of the intermediate SRRB outputs + L_D of the last."""
    if not refined:
        raise ValueError("L_R needs at least one SRRB output (this pipeline has num_srrb = 0)")
    intermediate = sum((F.mse_loss(r, clean) for r in refined[:-1]), torch.zeros((), device=clean.device))
    return 0.5 * intermediate + derain_loss(refined[-1], clean, alpha)


def semantic_loss(
    pred: SegmentationOutput, target: SegmentationOutput, lf_layer: str = "layer1", lf_weight: float = 0.1
) -> Tensor:
    """L_H, eq. (4): mean L1 over the 5 ASPP branches + lf_weight * L1 of one backbone feature.

    The clean image's features are a fixed target: no gradient flows into them.
    """
    aspp = sum(F.l1_loss(p, t.detach()) for p, t in zip(pred.aspp, target.aspp, strict=True)) / len(pred.aspp)
    return aspp + lf_weight * F.l1_loss(pred.feature(lf_layer), target.feature(lf_layer).detach())


@dataclass(frozen=True)
class LossWeights:
    """Weights of L_Att, L_D(I_C), L_R, L_H and the log-MSE term; zero leaves a term out (and its
    inputs unneeded). The log-MSE term judges the last image the stage trains: the last SRRB's
    output where L_R counts, else I_C."""

    attention: float = 0.0
    coarse: float = 0.0
    refine: float = 0.0
    semantic: float = 0.0
    log_mse: float = 0.0
    log_mse_eps: float = LOG_MSE_EPS
    semantic_on: Literal["coarse", "derained"] = "derained"
    lf_layer: Literal["layer1", "layer4"] = "layer1"
    lf_weight: float = 0.1
    alpha: float = 0.85


def pipeline_loss(
    out: dict,
    clean: Tensor,
    weights: LossWeights,
    mask_target: Tensor | None = None,
    seg_pred: SegmentationOutput | None = None,
    seg_clean: SegmentationOutput | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Weighted sum of the terms that ``weights`` switches on, and each term for logging.

    ``out`` is ``DerainSegPipeline.forward``'s dict; ``seg_pred`` is DeepLab on the image L_H judges
    (``weights.semantic_on``), ``seg_clean`` DeepLab on the clean image.
    """
    terms: dict[str, Tensor] = {}
    if weights.attention:
        if mask_target is None:
            raise ValueError("L_Att needs mask_target, the rain map M_gt of the dataset (mask/)")
        terms["attention"] = attention_loss(out["attention"], mask_target)
    if weights.coarse:
        terms["coarse"] = derain_loss(out["coarse"], clean, weights.alpha)
    if weights.refine:
        terms["refine"] = refine_loss(out["refined"], clean, weights.alpha)
    if weights.log_mse:
        terms["log_mse"] = log_mse_loss(
            out["refined"][-1] if weights.refine else out["coarse"], clean, weights.log_mse_eps
        )
    if weights.semantic:
        if seg_pred is None or seg_clean is None:
            raise ValueError("L_H needs DeepLab features of the derained and the clean image")
        terms["semantic"] = semantic_loss(seg_pred, seg_clean, weights.lf_layer, weights.lf_weight)
    if not terms:
        raise ValueError("LossWeights switches every term off")
    total = sum(getattr(weights, name) * value for name, value in terms.items())
    parts = {name: float(value.detach()) for name, value in terms.items()}
    parts["total"] = float(total.detach())
    return total, parts
