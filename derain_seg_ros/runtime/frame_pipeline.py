"""The deployed graph: uint8 frames in, uint8 derained frames and trainId maps out.

The torch engine runs this module and the ONNX export traces it, so both share the conversion,
the argmax and the casts; only small uint8 maps ever leave the GPU.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.preprocess import to_float_nchw, to_uint8_nhwc_tensor

OUTPUT_NAMES = ("derained", "labels")


class FramePipeline(nn.Module):
    def __init__(self, pipeline: DerainSegPipeline, with_logits: bool = False) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.with_logits = with_logits

    def forward(self, rainy: Tensor) -> tuple[Tensor, ...]:
        """``rainy``: uint8 N x H x W x 3 RGB -> (derained uint8 N x H x W x 3, labels uint8 N x H x W[, logits])."""
        dtype = next(self.pipeline.parameters()).dtype  # float16 in a half-precision export
        out = self.pipeline(to_float_nchw(rainy).to(dtype))
        derained = to_uint8_nhwc_tensor(out["derained"].float())
        labels = out["logits"].argmax(dim=1).to(torch.uint8)
        return (derained, labels, out["logits"].float()) if self.with_logits else (derained, labels)
