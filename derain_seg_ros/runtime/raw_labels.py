"""The pipeline's own segmenter on the rainy frame: what the car would see without deraining.

It runs the very DeepLabv3+ module (weights, normalisation, device and precision) that follows the
derainer inside the engine's graph, only fed the rainy frame: the node's optional
``<cam>/segmentation/label_raw`` beside ``<cam>/segmentation/label``, so rviz shows both.

Only the torch engine holds the graph as modules it can call part of; an ONNX or TensorRT engine is
one compiled graph with two outputs, and a second segmenter output there would mean a second export
and engine build. ``rainy_segmenter`` says so by returning None, and the node refuses the output at
start instead of publishing nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.engine import Engine, check_frames
from derain_seg_ros.runtime.preprocess import to_float_nchw

RainySegmenter = Callable[[Sequence[np.ndarray]], np.ndarray]


def rainy_segmenter(engine: Engine) -> RainySegmenter | None:
    """uint8 N x H x W x 3 rainy frames -> uint8 N x H x W trainIds, or None where the engine cannot."""
    pipeline = getattr(getattr(engine, "model", None), "pipeline", None)  # TorchEngine runs a FramePipeline
    if not isinstance(pipeline, DerainSegPipeline):
        return None
    device = getattr(engine, "device", torch.device("cpu"))
    autocast = engine._autocast

    @torch.inference_mode()
    def segment(frames: Sequence[np.ndarray]) -> np.ndarray:
        rainy = torch.from_numpy(check_frames(frames)).to(device)
        dtype = next(pipeline.parameters()).dtype
        with autocast():
            logits = pipeline.deeplab(to_float_nchw(rainy).to(dtype)).logits
        return logits.argmax(dim=1).to(torch.uint8).cpu().numpy()

    return segment
