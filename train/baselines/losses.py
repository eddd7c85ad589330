"""The losses of the four baseline deraining methods, each as its paper or public code defines it.

Every generator loss returns ``(total, parts)`` like ``losses.pipeline_loss``; the GANs' losses
come in pairs (``*_generator_loss`` and ``*_discriminator_loss``) for the one training loop's
generator step and discriminator step. Each pair guarantees by itself that it trains only its own
network: the discriminator loss detaches the generator's output, and the generator loss runs the
discriminator with its parameters frozen (gradients still flow through it to the image).

Perceptual terms: both GANs' papers compare ImageNet-VGG features, which cannot be loaded here.
Their perceptual term therefore takes a feature extractor (``features``: image in [0, 1] -> one
feature map or a sequence of them), meant to be the frozen segmenter's backbone (the features L_H
already taps); ``features=None`` leaves the term out. The clean image's features are a fixed
target (no gradient).

SSIM: every SSIM here is ``losses.ssim`` (Gaussian 11 x 11, sigma 1.5, valid region). PReNet's and
DuRN's code use pytorch-ssim (same window, zero-padded 'same' region): the same measure except
at the 5-pixel border.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from derain_seg_ros.losses import ssim

FeatureExtractor = Callable[[Tensor], "Tensor | Sequence[Tensor]"]


def _parts(terms: dict[str, Tensor], total: Tensor) -> dict[str, float]:
    parts = {name: float(value.detach()) for name, value in terms.items()}
    parts["total"] = float(total.detach())
    return parts


def _weighted_sum(terms: dict[str, Tensor], weights: dict[str, float]) -> Tensor:
    if not terms:
        raise ValueError("every loss term is switched off or lacks its input")
    return sum(weights[name] * value for name, value in terms.items())  # type: ignore[return-value]


@contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Run ``module`` without recording gradients for its parameters (restored afterwards)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def _as_list(features: Tensor | Sequence[Tensor]) -> list[Tensor]:
    return [features] if isinstance(features, Tensor) else list(features)


def perceptual_loss(
    features: FeatureExtractor, output: Tensor, clean: Tensor, distance: str = "mse", pyramid_weights: bool = False
) -> Tensor:
    """Distance between ``features`` of the output and of the clean image.

    ``pyramid_weights`` weighs k feature maps 2^-(k-1), ..., 1/2, 1 (deepest counts most), as the
    ICSC re-implementation weighs its VGG layers; otherwise the maps count equally.
    """
    dist = {"mse": F.mse_loss, "l1": F.l1_loss}[distance]
    with torch.no_grad():
        target = _as_list(features(clean))
    pred = _as_list(features(output))
    if len(pred) != len(target):
        raise ValueError(
            f"feature extractor gave {len(pred)} maps for the output and {len(target)} for the clean image"
        )
    k = len(pred)
    weights = [2.0 ** (i - k + 1) for i in range(k)] if pyramid_weights else [1.0 / k] * k
    return sum(w * dist(p, t) for w, p, t in zip(weights, pred, target))  # type: ignore[return-value]


# --- PReNet -------------------------------------------------------------------------------------


def prenet_loss(out: dict, clean: Tensor) -> tuple[Tensor, dict[str, float]]:
    """Negative SSIM of the last stage's (unclamped) output: ``train_PReNet.py`` in
    csdwren/PReNet (``loss = -criterion(target, out)``, the intermediate stages unsupervised).
    Its minimum is -1."""
    neg_ssim = -ssim(out["output"], clean)
    return neg_ssim, _parts({"neg_ssim": neg_ssim}, neg_ssim)


# --- DuRN-S-P -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuRNLossWeights:
    """liu-vis/DualResidualNetworks ``train/experimental_settings_summary`` (raindrop): step 1 is
    1.1 x (-SSIM) + 0.75 x L1 for 4000 epochs, step 2 is 1.1 x L1 for 100 more at lr 1e-5."""

    neg_ssim: float = 1.1
    l1: float = 0.75


DURN_STEP1 = DuRNLossWeights()
DURN_STEP2 = DuRNLossWeights(neg_ssim=0.0, l1=1.1)


def durn_loss(out: dict, clean: Tensor, weights: DuRNLossWeights = DURN_STEP1) -> tuple[Tensor, dict[str, float]]:
    terms: dict[str, Tensor] = {}
    if weights.neg_ssim:
        terms["neg_ssim"] = -ssim(out["output"], clean)
    if weights.l1:
        terms["l1"] = F.l1_loss(out["output"], clean)
    total = _weighted_sum(terms, {"neg_ssim": weights.neg_ssim, "l1": weights.l1})
    return total, _parts(terms, total)


# --- AGAN ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AGANLossWeights:
    """Qian et al. 2018, Sec. 4: L_G = 1e-2 L_GAN + L_ATT + L_M + L_P; L_ATT weighs time step t of
    N by theta^(N-t), theta = 0.8; L_M weighs the 1/4, 1/2 and full-size outputs 0.6, 0.8, 1.0;
    the discriminator's attention-map term counts gamma = 0.05. (The same values are in the
    unofficial training code MaybeShewill-CV/attentive-gan-derainnet.)"""

    adversarial: float = 0.01
    attention: float = 1.0
    multiscale: float = 1.0
    perceptual: float = 1.0
    theta: float = 0.8
    scale_weights: tuple[float, float, float] = (0.6, 0.8, 1.0)
    map_gamma: float = 0.05


def agan_attention_loss(maps: Sequence[Tensor], mask_target: Tensor, theta: float = 0.8) -> Tensor:
    """L_ATT = sum_t theta^(N-t) MSE(A_t, M): later (better) maps count more."""
    n = len(maps)
    return sum(theta ** (n - t) * F.mse_loss(a, mask_target) for t, a in enumerate(maps, start=1))  # type: ignore[return-value]


def agan_multiscale_loss(scales: Sequence[Tensor], clean: Tensor, weights: Sequence[float] = (0.6, 0.8, 1.0)) -> Tensor:
    """L_M = sum_i lambda_i MSE(S_i, T_i); T_i is the clean image area-resized to S_i's size."""
    if len(scales) != len(weights):
        raise ValueError(f"{len(scales)} outputs but {len(weights)} scale weights")
    return sum(  # type: ignore[return-value]
        w
        * F.mse_loss(
            s, clean if s.shape[-2:] == clean.shape[-2:] else F.interpolate(clean, size=s.shape[-2:], mode="area")
        )
        for w, s in zip(weights, scales)
    )


def agan_generator_loss(
    out: dict,
    clean: Tensor,
    mask_target: Tensor,
    *,
    disc: nn.Module | None = None,
    features: FeatureExtractor | None = None,
    weights: AGANLossWeights = AGANLossWeights(),
) -> tuple[Tensor, dict[str, float]]:
    """``out``: ``AGANGenerator.forward``'s dict; ``mask_target``: M, N x 1 x H x W in {0, 1}
    (the dataset's mask/, ``rain.mask.rain_mask``). The adversarial term is the paper's log(1 - D(O)), written
    -softplus(logit); it is left out without ``disc``, the perceptual one (MSE of features) without
    ``features``."""
    terms = {
        "attention": agan_attention_loss(out["attention"], mask_target, weights.theta),
        "multiscale": agan_multiscale_loss(out["scales"], clean, weights.scale_weights),
    }
    if features is not None and weights.perceptual:
        terms["perceptual"] = perceptual_loss(features, out["output"], clean, "mse")
    if disc is not None and weights.adversarial:
        with frozen(disc):
            _, logit = disc(out["output"])
        terms["adversarial"] = -F.softplus(logit).mean()
    total = _weighted_sum(
        terms,
        {
            "attention": weights.attention,
            "multiscale": weights.multiscale,
            "perceptual": weights.perceptual,
            "adversarial": weights.adversarial,
        },
    )
    return total, _parts(terms, total)


def agan_discriminator_loss(
    disc: nn.Module, out: dict, clean: Tensor, gamma: float = 0.05
) -> tuple[Tensor, dict[str, float]]:
    """L_D = -log D(R) - log(1 - D(O)) + gamma L_map, L_map = MSE(D_map(O), A_N) + MSE(D_map(R), 0):
    the discriminator's map must find the generator's attention on derained images, nothing on clean ones."""
    fake = out["output"].detach()
    target_map = out["attention"][-1].detach()
    map_fake, logit_fake = disc(fake)
    map_real, logit_real = disc(clean)
    terms = {
        "entropy": F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
        + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)),
        "map": F.mse_loss(map_fake, target_map) + F.mse_loss(map_real, torch.zeros_like(map_real)),
    }
    total = _weighted_sum(terms, {"entropy": 1.0, "map": gamma})
    return total, _parts(terms, total)


# --- ICSC ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ICSCLossWeights:
    """maxsuel-fa/i-can-see-clearly-now ``src/options/options.py`` (lambda_adv, lambda_vgg,
    lambda_fm, all 1) and ``src/models/losses.py``: least-squares adversarial loss, L1 feature
    matching over the discriminator's interior layers weighted 1/8, 1/4, 1/2, 1, L1 perceptual
    loss with pyramid weights (deepest 1)."""

    adversarial: float = 1.0
    perceptual: float = 1.0
    feature_matching: float = 1.0


def icsc_generator_loss(
    out: dict,
    clean: Tensor,
    *,
    weights: ICSCLossWeights = ICSCLossWeights(),
    disc: nn.Module | None = None,
    features: FeatureExtractor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """``out``: ``ICSCGenerator.forward``'s dict. Adversarial: MSE(D(G(x)), 1) on the PatchGAN's
    score map; feature matching: L1 between the discriminator's interior features on the output
    and on the clean image (both need ``disc``); perceptual needs ``features``."""
    terms: dict[str, Tensor] = {}
    if features is not None and weights.perceptual:
        terms["perceptual"] = perceptual_loss(features, out["output"], clean, "l1", pyramid_weights=True)
    if disc is not None and (weights.adversarial or weights.feature_matching):
        with frozen(disc):
            fake = disc(out["output"])
            with torch.no_grad():
                real = disc(clean)
        score = fake[-1]
        terms["adversarial"] = F.mse_loss(score, torch.ones_like(score))
        k = len(fake) - 1
        terms["feature_matching"] = sum(  # type: ignore[assignment]
            2.0 ** (i - k + 1) * F.l1_loss(f, r) for i, (f, r) in enumerate(zip(fake[:-1], real[:-1]))
        )
    total = _weighted_sum(
        terms,
        {
            "perceptual": weights.perceptual,
            "adversarial": weights.adversarial,
            "feature_matching": weights.feature_matching,
        },
    )
    return total, _parts(terms, total)


def icsc_discriminator_loss(disc: nn.Module, out: dict, clean: Tensor) -> tuple[Tensor, dict[str, float]]:
    """Least squares: 0.5 (MSE(D(clean), 1) + MSE(D(derained), 0))."""
    real = disc(clean)[-1]
    fake = disc(out["output"].detach())[-1]
    terms = {"real": F.mse_loss(real, torch.ones_like(real)), "fake": F.mse_loss(fake, torch.zeros_like(fake))}
    total = _weighted_sum(terms, {"real": 0.5, "fake": 0.5})
    return total, _parts(terms, total)
