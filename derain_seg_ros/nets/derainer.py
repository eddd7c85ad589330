"""The deraining network that ships: A -> C -> SRRN (Guo et al.'s), one module.

Any deraining network stands in the same place in front of the segmenter if it takes N x 3 x H x W
in [0, 1] and returns a dict with 'derained' (clamped to [0, 1]) beside its own extras.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from derain_seg_ros.nets.attention import AttentionNet
from derain_seg_ros.nets.coarse import CoarseNet
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.padding import crop_to, pad_to_multiple
from derain_seg_ros.nets.srrn import SRRN


class SegAwareDerainer(nn.Module):
    """A (rain map M), C (coarse image from rainy + M), SRRN (refined images), at any input size."""

    def __init__(self, cfg: PipelineConfig) -> None:
        super().__init__()
        self.pad_multiple = cfg.pad_multiple
        self.attention = AttentionNet(cfg.attention)
        self.coarse = CoarseNet(cfg.coarse)
        self.srrn = SRRN(cfg.srrb, cfg.num_srrb)

    def forward(self, rainy: Tensor, refine: bool = True) -> dict[str, Any]:
        """'attention', 'coarse', 'refined' (one image per SRRB; none without ``refine``) and 'derained'
        (the last refined image, or the coarse one, clamped to [0, 1]); padded inside, cropped back."""
        padded, size = pad_to_multiple(rainy, self.pad_multiple)
        attention = self.attention(padded)
        coarse = self.coarse(padded, attention)
        refined = [crop_to(x, size) for x in self.srrn(coarse)] if refine else []
        return {
            "attention": crop_to(attention, size),
            "coarse": crop_to(coarse, size),
            "refined": refined,
            "derained": (refined[-1] if refined else crop_to(coarse, size)).clamp(0, 1),
        }
