"""The one graph: rainy image -> deraining network -> DeepLabv3+.

The deraining network is ours (A -> C -> SRRN) unless ``cfg.derainer`` names one of the paper's
baselines, which then stands in the same place in front of the same DeepLab. Training, ONNX
export, every engine, the node and the offline tools run this module's forward; nothing else
wires the networks together.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torch import Tensor, nn

from derain_seg_ros.nets.agan import AGANGenerator
from derain_seg_ros.nets.attention import AttentionNet
from derain_seg_ros.nets.coarse import CoarseNet
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.deeplab import DeepLabV3Plus
from derain_seg_ros.nets.durn import DuRNSP
from derain_seg_ros.nets.icsc import ICSCGenerator
from derain_seg_ros.nets.padding import crop_to, pad_to_multiple
from derain_seg_ros.nets.prenet import PReNet
from derain_seg_ros.nets.srrn import SRRN

BASELINES: dict[str, type[nn.Module]] = {"prenet": PReNet, "durn": DuRNSP, "agan": AGANGenerator, "icsc": ICSCGenerator}
"""``PipelineConfig.derainer`` -> the class built from the config field of the same name. Each takes
N x 3 x H x W in [0, 1] and returns a dict with 'output' (unclamped), 'derained' (clamped) and its extras."""


def shrink_correction(rainy: Tensor, derained: Tensor, threshold: float) -> Tensor:
    """``rainy`` plus the correction ``derained - rainy`` soft-thresholded by ``threshold`` (same
    units as the images): each pixel's change shrinks toward zero by it, and smaller ones vanish.

    Written as ``c - clamp(c, -t, t)`` (Sub and Clip, which every ONNX runtime and TensorRT run)
    rather than ``F.softshrink`` (ONNX Shrink). The result lies between ``rainy`` and ``derained``,
    so it stays in [0, 1] without another clamp.
    """
    correction = derained - rainy
    return rainy + (correction - correction.clamp(-threshold, threshold))


def with_bypass(pipeline: "DerainSegPipeline", bypass: str) -> "DerainSegPipeline":
    """The same module and weights with ``cfg.bypass`` set (an inference-only setting)."""
    pipeline.cfg = replace(pipeline.cfg, bypass=bypass)  # type: ignore[arg-type]
    return pipeline


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class DerainSegPipeline(nn.Module):
    def __init__(self, cfg: PipelineConfig = PipelineConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.derainer == "ours":  # module names are the checkpoints' keys: attention.*, coarse.*, srrn.*
            self.attention = AttentionNet(cfg.attention)
            self.coarse = CoarseNet(cfg.coarse)
            self.srrn = SRRN(cfg.srrb, cfg.num_srrb)
        else:  # derainer.*
            self.derainer = BASELINES[cfg.derainer](getattr(cfg, cfg.derainer))
        self.deeplab = DeepLabV3Plus(cfg.deeplab)

    @property
    def derainer_parts(self) -> tuple[str, ...]:
        """Names of the submodules that derain (everything but DeepLab)."""
        return ("attention", "coarse", "srrn") if self.cfg.derainer == "ours" else ("derainer",)

    def forward(self, rainy: Tensor, *, segment: bool = True, features: bool = False) -> dict[str, Any]:
        """``rainy``: N x 3 x H x W in [0, 1], any H and W (padded to ``cfg.pad_multiple`` inside,
        every output cropped back). Ours returns 'attention', 'coarse', 'refined' (one image per
        SRRB) and 'derained' (the last, or the coarse image without SRRBs, clamped to [0, 1]); a
        baseline its own dict ('output', 'derained' and its extras). With ``segment`` also 'logits'
        and 'labels' (int64 trainIds); with ``features`` also 'seg', DeepLab's taps on the derained image.
        In eval mode with ``cfg.correction_shrink`` the 'derained' image (and what DeepLab sees) is
        the shrunk one; 'coarse', 'refined' and a baseline's 'output' stay raw. ``cfg.bypass``
        leaves out the deraining ('derained' is the input) or the SRRN ('derained' is C's image).
        """
        if self.cfg.bypass == "derain":
            out: dict[str, Any] = {"derained": rainy.clamp(0, 1)}
        else:
            out = self._ours(rainy) if self.cfg.derainer == "ours" else dict(self.derainer(rainy))
        if self.cfg.correction_shrink > 0 and not self.training:
            out["derained"] = shrink_correction(rainy, out["derained"], self.cfg.correction_shrink / 255.0)
        if segment or features:
            seg = self.deeplab(out["derained"])
            out["logits"] = seg.logits
            out["labels"] = seg.logits.argmax(dim=1)
            if features:
                out["seg"] = seg
        return out

    def _ours(self, rainy: Tensor) -> dict[str, Any]:
        padded, size = pad_to_multiple(rainy, self.cfg.pad_multiple)
        attention = self.attention(padded)
        coarse = self.coarse(padded, attention)
        refined = [] if self.cfg.bypass == "refine" else [crop_to(x, size) for x in self.srrn(coarse)]
        return {
            "attention": crop_to(attention, size),
            "coarse": crop_to(coarse, size),
            "refined": refined,
            "derained": (refined[-1] if refined else crop_to(coarse, size)).clamp(0, 1),
        }

    def parameter_counts(self) -> dict[str, int]:
        counts = {name: count_parameters(getattr(self, name)) for name in (*self.derainer_parts, "deeplab")}
        counts["total"] = sum(counts.values())
        return counts
