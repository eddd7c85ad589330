"""The segmenter alone on an image: the "no deraining" reference and the pseudo-labeller.

Runs the pipeline's own DeepLabv3+ (same normalisation as in the graph), so what it labels is
what the deployed network would label on that image.
"""

from __future__ import annotations

import numpy as np
import torch

from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.preprocess import to_float_nchw


def segment(pipeline: DerainSegPipeline, image: np.ndarray) -> np.ndarray:
    """uint8 H x W x 3 RGB -> uint8 H x W trainIds."""
    with torch.inference_mode():
        return pipeline.deeplab(to_float_nchw(image)).logits.argmax(1)[0].cpu().numpy().astype(np.uint8)
