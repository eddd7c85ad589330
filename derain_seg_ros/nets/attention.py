"""A, the attention network: a full-resolution residual net from the rainy image to the rain map M."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from derain_seg_ros.nets.config import AttentionConfig
from derain_seg_ros.nets.layers import ResidualBlock, conv_bn_relu

CONTEXT_INIT_SEED = 0x5CE


class SceneContext(nn.Module):
    """One logit offset per image from the image-mean of A's features.

    A local net sees a few streaks' worth of pixels, so an edge in a nearly dry frame looks like
    an edge in a downpour; how much rain the whole frame holds tells them apart (DID-MDN's
    density estimate plays this part). A mean is a density, so it keeps its meaning when a model
    trained on crops runs on full frames. The last conv starts at zero: a fresh A is the local A.
    Its weights are drawn under a fixed seed of their own and the global RNG is put back, so
    switching it on leaves every other network's initial weights, and so a seeded stage 0, bit
    for bit as they were.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(CONTEXT_INIT_SEED)
            self.body = nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Conv2d(channels, channels, 1),
                nn.ReLU(inplace=True),
                nn.Conv2d(channels, 1, 1),
            )
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, features: Tensor) -> Tensor:
        return self.body(features)  # B x 1 x 1 x 1, broadcast over the map


class AttentionNet(nn.Module):
    """Never downsamples, so thin streaks and small drops keep their full-resolution outline."""

    def __init__(self, cfg: AttentionConfig = AttentionConfig()) -> None:
        super().__init__()
        self.stem = conv_bn_relu(3, cfg.channels)
        self.blocks = nn.Sequential(*(ResidualBlock(cfg.channels) for _ in range(cfg.blocks)))
        self.head = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cfg.channels, 1, 3), nn.Sigmoid())
        self.context = SceneContext(cfg.channels) if cfg.scene_context else None

    def forward(self, rainy: Tensor) -> Tensor:
        features = self.blocks(self.stem(rainy))
        if self.context is None:
            return self.head(features)
        logits = self.head[:-1](features) + self.context(features)
        return self.head[-1](logits)
