"""Fit the tone head (nets/tone.py) on its own, before stage 1 trains A and C around it.

Why a step of its own: the head predicts six numbers per frame, and the signal that says how
much veil a frame carries is weak. Inside stage 1 (L_D is mostly SSIM, which barely sees a global
gain or offset; 865 steps at the fine-tune's rate) a zero-initialised head stayed at the identity
(gain 1.001, offset 0.000 on every held-out frame). Trained alone on its own loss, at the
resolution it looks at (1 / POOL, every training frame decoded once and held in memory), it needs
about 60 k crops before it leaves the identity, which costs a minute or two on two cores.

The loss is the mean over frames of ln(MSE + eps), PSNR's own scale: under plain MSE the glass-pane
frames' large errors drove the head (paper rain -1.6 dB, 55 of 101 frames worse); crops of the
stage's crop size (frames of any size then share a batch) were what kept it from learning the
training photos by heart (on whole frames car rain went from +0.9 dB to -0.6, 43 frames worse, as
it trained on). Figures in train/RESULTS.md. Dry items (clean in, clean out) come at
``tone.dry_fraction`` (default: the stage's). Held-out scenes (``data.val_count``) are left out,
as from every stage.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from derain_seg_ros.data.raindrop_cityscapes import read_item
from derain_seg_ros.data.torch_dataset import RaindropCityscapesDataset
from derain_seg_ros.losses import log_mse_loss
from derain_seg_ros.nets.tone import POOL, ToneHead
from derain_seg_ros.runtime.preprocess import to_float_nchw
from train.config import TrainConfig
from train.datasets import deraining_roots, held_out_scenes, scene_of
from train.fit_alone import train_alone

log = logging.getLogger("train")


def pooled_frames(cfg: TrainConfig) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every training frame of ``tone.roots`` (default: the stage's sets) as (rainy, clean), 3 x H/POOL x W/POOL in [0, 1]."""
    held = held_out_scenes(cfg) if cfg.data.val_count else set()
    frames = []
    roots = [Path(r) for r in cfg.tone.roots] if cfg.tone.roots else deraining_roots(cfg)
    for root in roots:
        for item in RaindropCityscapesDataset(root, "train").items:
            if scene_of(item) in held:
                continue
            arrays = read_item(root, item)
            # The head's own preprocessing and pooling (ToneHead.params), so it is fitted on what it will see.
            pair = F.avg_pool2d(to_float_nchw([arrays["rainy"], arrays["clean"]]), POOL)
            frames.append((pair[0], pair[1]))
    return frames


def tone_loss(head: ToneHead, rainy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Mean over the frames of ln(MSE(gain * rainy + offset, clean) + eps)."""
    gain, offset = head.pooled_params(rainy)
    return log_mse_loss(rainy * gain + offset, clean)


def fit_tone(head: ToneHead, cfg: TrainConfig) -> None:
    """Train ``head`` alone for ``cfg.tone.steps`` (Adam, cosine decay), deterministically from ``cfg.seed``."""
    t = cfg.tone
    started = time.perf_counter()
    frames = pooled_frames(cfg)
    if not frames:
        raise ValueError("tone fit: the stage's sets hold no training frames")
    ch, cw = (c // POOL for c in cfg.data.crop)
    if any(r.shape[1] < ch or r.shape[2] < cw for r, _ in frames):
        raise ValueError(f"tone fit: a training frame is smaller than the crop {cfg.data.crop}")
    gen = torch.Generator().manual_seed(cfg.seed)
    dry = cfg.data.dry_fraction if t.dry_fraction is None else t.dry_fraction

    def batch_loss() -> torch.Tensor:
        picks = torch.randint(len(frames), (t.batch_size,), generator=gen).tolist()
        batch = []
        for k in picks:
            rainy, clean = frames[k]
            i = int(torch.randint(rainy.shape[1] - ch + 1, (1,), generator=gen))
            j = int(torch.randint(rainy.shape[2] - cw + 1, (1,), generator=gen))
            pair = torch.stack([rainy, clean])[..., i : i + ch, j : j + cw]
            if torch.rand(1, generator=gen).item() < 0.5:
                pair = pair.flip(-1)
            if torch.rand(1, generator=gen).item() < dry:
                pair = pair[[1, 1]]
            batch.append(pair)
        pairs = torch.stack(batch)
        return tone_loss(head, pairs[:, 0], pairs[:, 1])

    train_alone(head, t.steps, t.lr, batch_loss, "tone fit")
    log.info("tone fit: %d frames, %d steps in %.1f min", len(frames), t.steps, (time.perf_counter() - started) / 60)
