"""One small module trained on its own loss while the rest stays as it is: the tone head before stage 1,
the trust head before stage 2 (train/tone_fit.py, train/trust_fit.py)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch
from torch import nn

log = logging.getLogger("train")


def train_alone(module: nn.Module, steps: int, lr: float, batch_loss: Callable[[], torch.Tensor], what: str) -> None:
    """``steps`` of Adam with cosine decay on ``batch_loss()``; ``module``'s parameters are trainable only meanwhile
    (a frozen part of a stage is fitted and handed back frozen). Logs the mean loss ten times."""
    params = list(module.parameters())
    was = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    module.train()
    running: list[float] = []
    with torch.enable_grad():
        for step in range(steps):
            loss = batch_loss()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            running.append(loss.item())
            if (step + 1) % max(1, steps // 10) == 0:
                log.info("%s: step %d/%d, ln MSE %.3f", what, step + 1, steps, sum(running) / len(running))
                running = []
    for p, g in zip(params, was, strict=True):
        p.requires_grad_(g)
