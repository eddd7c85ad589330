"""A, the attention network: a full-resolution residual net from the rainy image to the rain map M."""

from __future__ import annotations

from torch import Tensor, nn

from derain_seg_ros.nets.config import AttentionConfig
from derain_seg_ros.nets.layers import ResidualBlock, conv_bn_relu


class AttentionNet(nn.Module):
    """Never downsamples, so thin streaks and small drops keep their full-resolution outline."""

    def __init__(self, cfg: AttentionConfig = AttentionConfig()) -> None:
        super().__init__()
        self.stem = conv_bn_relu(3, cfg.channels)
        self.blocks = nn.Sequential(*(ResidualBlock(cfg.channels) for _ in range(cfg.blocks)))
        self.head = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cfg.channels, 1, 3), nn.Sigmoid())

    def forward(self, rainy: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(rainy)))
