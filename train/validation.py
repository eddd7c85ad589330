"""The held-out score that stage selection maximises: mean RGB PSNR of the 8-bit output, as deployed.

PSNR is what the report measures, so the selected weights are the ones that do not cost it; the
dry pairs in the set make leaving a dry frame alone count as much as removing rain.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from derain_seg_ros.metrics import PSNR_CAP_DB, psnr
from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.preprocess import to_float_nchw, to_uint8_hwc


def psnr_validator(pipeline: DerainSegPipeline, pairs: list[tuple[np.ndarray, np.ndarray]],
                   batch: int = 8) -> Callable[[], float]:
    """A score function over (rainy, clean) uint8 pairs of one size; eval mode, no gradient, no RNG."""
    if not pairs:
        raise ValueError("validation needs at least one pair")

    def score() -> float:
        pipeline.eval()
        device = next(pipeline.parameters()).device
        values = []
        with torch.no_grad():
            for start in range(0, len(pairs), batch):
                chunk = pairs[start:start + batch]
                rainy = to_float_nchw(np.stack([r for r, _ in chunk])).to(device)
                outputs = to_uint8_hwc(pipeline(rainy, segment=False)["derained"])
                values += [psnr(out, clean, "rgb", max_db=PSNR_CAP_DB) for out, (_, clean) in zip(outputs, chunk, strict=True)]
        return float(np.mean(values))
    return score
