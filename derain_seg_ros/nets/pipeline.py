"""The one graph: rainy image -> A -> C -> SRRN -> DeepLabv3+.

Training, ONNX export, every engine, the node and the offline tools run this module's forward;
nothing else wires the networks together.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from derain_seg_ros.nets.attention import AttentionNet
from derain_seg_ros.nets.coarse import CoarseNet
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.deeplab import DeepLabV3Plus
from derain_seg_ros.nets.padding import crop_to, pad_to_multiple
from derain_seg_ros.nets.srrn import SRRN


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class DerainSegPipeline(nn.Module):
    def __init__(self, cfg: PipelineConfig = PipelineConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.attention = AttentionNet(cfg.attention)
        self.coarse = CoarseNet(cfg.coarse)
        self.srrn = SRRN(cfg.srrb, cfg.num_srrb)
        self.deeplab = DeepLabV3Plus(cfg.deeplab)

    def forward(self, rainy: Tensor, *, segment: bool = True, features: bool = False) -> dict[str, Any]:
        """``rainy``: N x 3 x H x W in [0, 1], any H and W (padded to ``cfg.pad_multiple`` here, every
        output cropped back). Returns 'attention', 'coarse', 'refined' (one image per SRRB),
        'derained' (the last, or the coarse image without SRRBs, clamped to [0, 1]) and, with ``segment``, 'logits' and 'labels'
        (int64 trainIds); with ``features`` also 'seg', DeepLab's taps on the derained image.
        """
        padded, size = pad_to_multiple(rainy, self.cfg.pad_multiple)
        attention = self.attention(padded)
        coarse = self.coarse(padded, attention)
        refined = [crop_to(x, size) for x in self.srrn(coarse)]
        out: dict[str, Any] = {
            "attention": crop_to(attention, size),
            "coarse": crop_to(coarse, size),
            "refined": refined,
            "derained": (refined[-1] if refined else crop_to(coarse, size)).clamp(0, 1),
        }
        if segment or features:
            seg = self.deeplab(out["derained"])
            out["logits"] = seg.logits
            out["labels"] = seg.logits.argmax(dim=1)
            if features:
                out["seg"] = seg
        return out

    def parameter_counts(self) -> dict[str, int]:
        counts = {name: count_parameters(getattr(self, name)) for name in ("attention", "coarse", "srrn", "deeplab")}
        counts["total"] = sum(counts.values())
        return counts
