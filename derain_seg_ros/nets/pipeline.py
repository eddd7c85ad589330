"""The one graph: rainy image -> deraining network -> DeepLabv3+.

``DerainSegPipeline`` composes a deraining network and a segmenter; ``from_config`` builds the
shipped one (A -> C -> SRRN, ``nets/derainer.py``). Training, ONNX export, every engine, the node
and the offline tools run this module's forward; nothing else wires the networks together.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torch import Tensor, nn

from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.nets.deeplab import DeepLabV3Plus
from derain_seg_ros.nets.derainer import SegAwareDerainer


def shrink_correction(rainy: Tensor, derained: Tensor, threshold: float) -> Tensor:
    """``rainy`` plus the correction ``derained - rainy`` soft-thresholded by ``threshold`` (same
    units as the images): each pixel's change shrinks toward zero by it, and smaller ones vanish.

    Written as ``c - clamp(c, -t, t)`` (Sub and Clip, which every ONNX runtime and TensorRT run)
    rather than ``F.softshrink`` (ONNX Shrink). The result lies between ``rainy`` and ``derained``,
    so it stays in [0, 1] without another clamp.
    """
    correction = derained - rainy
    return rainy + (correction - correction.clamp(-threshold, threshold))


def with_bypass(pipeline: DerainSegPipeline, bypass: str) -> DerainSegPipeline:
    """The same module and weights with ``cfg.bypass`` set (an inference-only setting)."""
    pipeline.cfg = replace(pipeline.cfg, bypass=bypass)  # type: ignore[arg-type]
    return pipeline


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class DerainSegPipeline(nn.Module):
    """``derainer`` in front of ``segmenter``; ``cfg`` holds the inference settings (correction
    shrink, bypass) and is what a checkpoint stores to build the same pipeline again.

    The shipped derainer's parts are registered under their own names (attention, coarse, srrn:
    the keys of every checkpoint since the first, and the stages a benchmark times); any other
    derainer is registered whole as ``derainer``.
    """

    def __init__(self, derainer: nn.Module, segmenter: DeepLabV3Plus, cfg: Any) -> None:
        super().__init__()
        self.cfg = cfg
        if isinstance(derainer, SegAwareDerainer):
            for name, part in derainer.named_children():
                self.add_module(name, part)
        else:
            self.derainer = derainer
        object.__setattr__(self, "_derain", derainer)  # not registered again: its parts are, above
        self.deeplab = segmenter

    @classmethod
    def from_config(cls, cfg: PipelineConfig = PipelineConfig()) -> DerainSegPipeline:
        """The shipped graph at ``cfg``'s sizes."""
        return cls(SegAwareDerainer(cfg), DeepLabV3Plus(cfg.deeplab), cfg)

    @property
    def derainer_parts(self) -> tuple[str, ...]:
        """Names of the submodules that derain (everything but DeepLab)."""
        return tuple(name for name, _ in self.named_children() if name != "deeplab")

    def forward(self, rainy: Tensor, *, segment: bool = True, features: bool = False) -> dict[str, Any]:
        """``rainy``: N x 3 x H x W in [0, 1], any H and W. Returns the derainer's dict (ours:
        'attention', 'coarse', 'refined', 'derained'; every derainer: 'derained' in [0, 1]); with
        ``segment`` also 'logits' and 'labels' (int64 trainIds); with ``features`` also 'seg',
        DeepLab's taps on the derained image. In eval mode with ``cfg.correction_shrink`` the
        'derained' image (and what DeepLab sees) is the shrunk one; the derainer's other outputs stay
        raw. ``cfg.bypass`` leaves out the deraining ('derained' is the input) or the SRRN
        ('derained' is C's image).
        """
        if self.cfg.bypass == "derain":
            out: dict[str, Any] = {"derained": rainy.clamp(0, 1)}
        elif self.cfg.bypass == "refine" and hasattr(self._derain, "srrn"):  # ours, or a baseline + R (train/)
            out = dict(self._derain(rainy, refine=False))
        else:
            out = dict(self._derain(rainy))
        if self.cfg.correction_shrink > 0 and not self.training:
            out["derained"] = shrink_correction(rainy, out["derained"], self.cfg.correction_shrink / 255.0)
        if segment or features:
            seg = self.deeplab(out["derained"])
            out["logits"] = seg.logits
            out["labels"] = seg.logits.argmax(dim=1)
            if features:
                out["seg"] = seg
        return out

    def parameter_counts(self) -> dict[str, int]:
        counts = {name: count_parameters(module) for name, module in self.named_children()}
        counts["total"] = sum(counts.values())
        return counts
