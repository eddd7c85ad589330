"""Named outputs shared by the networks, the losses and the runtime."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class SegmentationOutput(NamedTuple):
    """What DeepLabv3+ exposes: logits plus the feature taps that L_H compares.

    ``aspp`` holds the 5 branch outputs before concatenation (1x1, rates 6/12/18, image pooling
    broadcast to the feature size), each N x aspp_channels x H/16 x W/16. ``layer1`` is the
    backbone's low-level feature (stride 4, the authors' LF), ``layer4`` its last layer (stride 16,
    the paper's LF).
    """

    logits: Tensor
    aspp: tuple[Tensor, ...]
    layer1: Tensor
    layer4: Tensor

    def feature(self, name: str) -> Tensor:
        if name not in ("layer1", "layer4"):
            raise KeyError(f"unknown backbone feature {name!r}; expected 'layer1' or 'layer4'")
        return getattr(self, name)
