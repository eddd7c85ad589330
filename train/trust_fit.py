"""Fit C's trust head (nets/trust.py) alone, behind the finished A and C, before stage 2 trains the SRRN.

Why a step of its own, and why there: the head decides whether C's correction helps a frame, so it
must see C as it will be shipped (a frozen C), and its loss must weigh every frame alike: the mean
over frames of ln(MSE + eps), PSNR's own scale, on which a light-rain frame made 1 dB worse counts as
much as a heavy one made 1 dB better. Inside stage 1, under L_D, it would learn neither. A and C run
once over every frame (whole frames, through the pipeline's padding); the fit then needs only the
head's own forward on crops of the stage's crop size (as the tone head's fit, so it cannot learn the
training photos by heart).

Its sets (``trust.roots``) should be renderings C never trained on: on its own training frames C
corrects better than on new ones, and a head fitted there would learn to trust it too much. The
streets recipe renders the training photos under new rain (new seeds) for it; held-out scenes
(``data.val_count``) are left out, as from every stage. Dry items (clean in, clean out) come at
``trust.dry_fraction``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from derain_seg_ros.data.raindrop_cityscapes import read_item
from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset
from derain_seg_ros.losses import log_mse_loss
from derain_seg_ros.nets.derainer import SegAwareDerainer
from derain_seg_ros.nets.padding import crop_to, pad_to_multiple
from derain_seg_ros.nets.tone import POOL
from derain_seg_ros.nets.trust import TrustHead
from derain_seg_ros.progress import progress
from derain_seg_ros.runtime.preprocess import to_float_nchw
from train.config import TrainConfig
from train.datasets import deraining_roots, held_out_scenes, scene_of
from train.fit_alone import train_alone

log = logging.getLogger("train")

GRID = 8 * POOL  # the head's cell size: crops are multiples of it, so every cell is whole


@dataclass
class Frame:
    """What the head sees and what it is scored against, whole frame, half precision (3.5 MB at 360 x 480)."""

    base: torch.Tensor  # the tone-corrected frame, 3 x H x W
    attention: torch.Tensor  # M, 1 x H x W
    correction: torch.Tensor  # C's gated correction, 3 x H x W
    clean: torch.Tensor  # 3 x H x W


@torch.no_grad()
def coarse_parts(derainer: SegAwareDerainer, rainy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(base, M, gated correction) of C on ``rainy`` (N x 3 x H x W), through the derainer's own padding."""
    padded, size = pad_to_multiple(rainy, derainer.pad_multiple)
    attention = derainer.attention(padded)
    base, correction = derainer.coarse.parts(padded, attention)
    return crop_to(base, size), crop_to(attention, size), crop_to(correction, size)


def coarse_frames(derainer: SegAwareDerainer, cfg: TrainConfig) -> tuple[list[Frame], list[Frame]]:
    """Every training frame of ``trust.roots`` (rainy) and each clean frame once more (dry), through A and C."""
    held = held_out_scenes(cfg) if cfg.data.val_count else set()
    roots = [Path(r) for r in cfg.trust.roots] if cfg.trust.roots else deraining_roots(cfg)
    items = [(root, item) for root in roots for item in RaindropCityscapesDataset(root, "train").items]
    rainy_items = [(root, item) for root, item in items if scene_of(item) not in held]
    first_of_scene: dict[str, tuple[Path, dict]] = {}
    for root, item in rainy_items:
        first_of_scene.setdefault(scene_of(item), (root, item))
    dry_items = list(first_of_scene.values())  # each training photo once more, clean in and clean out
    derainer.eval()
    frames: tuple[list[Frame], list[Frame]] = ([], [])
    jobs = [*((r, i, "rainy") for r, i in rainy_items), *((r, i, "clean") for r, i in dry_items)]
    for k, (root, item, what) in enumerate(progress(jobs, desc="trust: A and C")):
        arrays = read_item(root, item)  # one frame at a time: the whole set as float would not fit in memory
        source, clean = to_float_nchw([arrays[what], arrays["clean"]])
        base, attention, correction = (x[0].half() for x in coarse_parts(derainer, source[None]))
        frames[k >= len(rainy_items)].append(Frame(base, attention, correction, clean.half()))
    log.info("trust fit: %d rainy and %d dry frames through A and C", len(frames[0]), len(frames[1]))
    return frames


def trust_loss(
    head: TrustHead, base: torch.Tensor, attention: torch.Tensor, correction: torch.Tensor, clean: torch.Tensor
) -> torch.Tensor:
    """Mean over the frames of ln(MSE(base + scale x correction, clean) + eps)."""
    return log_mse_loss(head(base, attention, correction), clean)


def fit_trust(head: TrustHead, derainer: SegAwareDerainer, cfg: TrainConfig) -> None:
    """Run A and C over ``trust.roots`` once, then fit ``head`` on what they give (``fit_on_frames``)."""
    started = time.perf_counter()
    rainy_frames, dry_frames = coarse_frames(derainer, cfg)
    fit_on_frames(head, rainy_frames, dry_frames, cfg)
    log.info(
        "trust fit: %.1f min in all; mean scale per frame (min / mean / max): rainy %.2f / %.2f / %.2f, dry %s",
        (time.perf_counter() - started) / 60,
        *scale_stats(head, rainy_frames),
        "{:.2f} / {:.2f} / {:.2f}".format(*scale_stats(head, dry_frames)) if dry_frames else "none",
    )


def fit_on_frames(head: TrustHead, rainy_frames: list[Frame], dry_frames: list[Frame], cfg: TrainConfig) -> None:
    """Train ``head`` alone for ``cfg.trust.steps`` on crops (Adam, cosine decay), deterministically from ``cfg.seed``."""
    t = cfg.trust
    if not rainy_frames:
        raise ValueError("trust fit: its sets hold no training frames")
    ch, cw = ((c // GRID) * GRID for c in cfg.data.crop)
    if min(ch, cw) == 0 or any(f.base.shape[1] < ch or f.base.shape[2] < cw for f in rainy_frames):
        raise ValueError(f"trust fit: the crop {cfg.data.crop} is smaller than a cell or larger than a frame")
    gen = torch.Generator().manual_seed(cfg.seed)
    dry = cfg.data.dry_fraction if t.dry_fraction is None else t.dry_fraction

    def batch_loss() -> torch.Tensor:
        crops = []
        for _ in range(t.batch_size):
            pool = dry_frames if dry_frames and torch.rand(1, generator=gen).item() < dry else rainy_frames
            f = pool[int(torch.randint(len(pool), (1,), generator=gen))]
            whole = torch.cat([f.base, f.attention, f.correction, f.clean])
            i = int(torch.randint(whole.shape[1] - ch + 1, (1,), generator=gen))
            j = int(torch.randint(whole.shape[2] - cw + 1, (1,), generator=gen))
            crop = whole[:, i : i + ch, j : j + cw]
            crops.append(crop.flip(-1) if torch.rand(1, generator=gen).item() < 0.5 else crop)
        batch = torch.stack(crops).float()
        return trust_loss(head, batch[:, :3], batch[:, 3:4], batch[:, 4:7], batch[:, 7:])

    train_alone(head, t.steps, t.lr, batch_loss, "trust fit")
    head.eval()


def scale_stats(head: TrustHead, frames: list[Frame]) -> tuple[float, float, float]:
    """(min, mean, max) of the head's mean scale per frame: what the log says the fit learnt."""
    with torch.no_grad():
        means = [
            float(head.scale(f.base[None].float(), f.attention[None].float(), f.correction[None].float()).mean())
            for f in frames
        ]
    return min(means), sum(means) / len(means), max(means)
