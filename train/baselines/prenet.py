"""PReNet: progressive recurrent deraining (Ren, Zuo, Hu, Zhu, Meng; CVPR 2019), Fig. 2 of the paper.

Every stage sees the rainy image and the previous stage's estimate, carries a ConvLSTM state to
the next stage, and adds a residual to the rainy image; the same weights run ``stages`` times.

Sizes (all from csdwren/PReNet, ``networks.py`` class ``PReNet``; stages from ``train_PReNet.py``
``--recurrent_iter 6``):
- f_in: conv3x3 6 -> 32 + ReLU on [rainy, previous estimate];
- f_recurrent: ConvLSTM, gates conv3x3 (32 + 32) -> 32 each, zero initial state;
- f_res: 5 residual blocks of two conv3x3 32 -> 32 with ReLU, ReLU after the addition;
- f_out: conv3x3 32 -> 3, added to the rainy image; 6 stages. About 0.17 M parameters.
Zero padding, stride 1 everywhere, so any H x W works without padding. The loss (negative SSIM of
the last stage) is ``losses.prenet_loss``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from train.baselines.blocks import ConvLSTMCell, ReluResBlock


@dataclass(frozen=True)
class PReNetConfig:
    channels: int = 32
    stages: int = 6
    res_blocks: int = 5

    def __post_init__(self) -> None:
        if self.channels < 1 or self.stages < 1 or self.res_blocks < 0:
            raise ValueError(f"PReNetConfig needs channels >= 1, stages >= 1, res_blocks >= 0; got {self}")

    @property
    def pad_multiple(self) -> int:
        return 1  # stride 1 everywhere: no padding needed

    @classmethod
    def embedded(cls) -> PReNetConfig:
        """For the embedded preset's CPU budget: the paper's 6 stages and 5 blocks, 8 channels."""
        return cls(channels=8)

    @classmethod
    def small(cls) -> PReNetConfig:
        """For tests and the smoke preset: the same wiring, three stages, two blocks."""
        return cls(channels=8, stages=3, res_blocks=2)


class PReNet(nn.Module):
    def __init__(self, cfg: PReNetConfig = PReNetConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        width = cfg.channels
        self.f_in = nn.Sequential(nn.Conv2d(6, width, 3, padding=1), nn.ReLU())
        self.f_recurrent = ConvLSTMCell(width, width)
        self.f_res = nn.Sequential(*(ReluResBlock(width) for _ in range(cfg.res_blocks)))
        self.f_out = nn.Conv2d(width, 3, 3, padding=1)

    def forward(self, rainy: Tensor) -> dict[str, Any]:
        """``rainy``: N x 3 x H x W in [0, 1]. Returns 'stages' (every stage's estimate, unclamped,
        what the loss sees), 'output' (the last of them) and 'derained' (it, clamped to [0, 1])."""
        estimate = rainy
        state = self.f_recurrent.zero_state(rainy)
        stages = []
        for _ in range(self.cfg.stages):  # unrolled when traced: a fixed number of stages
            features = self.f_in(torch.cat([rainy, estimate], dim=1))
            state = self.f_recurrent(features, state)
            estimate = rainy + self.f_out(self.f_res(state[0]))
            stages.append(estimate)
        return {"stages": stages, "output": estimate, "derained": estimate.clamp(0, 1)}
