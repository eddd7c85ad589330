"""C, the coarse deraining network: rainy image (+) rain map -> coarse derained image I_C."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from derain_seg_ros.nets.config import CoarseConfig
from derain_seg_ros.nets.layers import SkipUNet


class CoarseNet(nn.Module):
    """pix2pixHD-style global generator with skip concatenations (authors' sizes).

    The generator works on [-1, 1] images, as pix2pixHD does; the tanh output is mapped back to
    [0, 1] so that every image between the networks shares one value range.
    """

    def __init__(self, cfg: CoarseConfig = CoarseConfig()) -> None:
        super().__init__()
        self.generator = SkipUNet(4, 3, cfg.ngf, cfg.downsamplings, cfg.max_channels, cfg.blocks)

    def forward(self, rainy: Tensor, attention: Tensor) -> Tensor:
        x = torch.cat([rainy * 2 - 1, attention], dim=1)
        return (self.generator(x) + 1) / 2
