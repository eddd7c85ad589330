"""Frames smaller than the networks can take: padded up to the smallest size, results cropped back.

The pipeline pads every input to its ``pad_multiple`` inside the graph, but its reflection
padding at the coarsest scale needs at least two pixels there: a 1x1, 4x4, 13x17 or 2x300 image
(the embedded networks at 16x16) stop with a torch padding error. So the offline tools bring
such a frame up to ``smallest_side`` first (mirrored where the frame is large enough to mirror,
repeated where it is not), as the graph itself does, and crop every output back to the frame.
A graph exported at a fixed size cannot do this; ``check_export_size`` refuses that size up front.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.runtime.engine import Engine, EngineOutput, check_frames

PROBE_UP_TO = 128  # largest side tried; the shipped networks need 17


class FrameSizeError(DerainSegError, ValueError):
    """A fixed frame size (an export's) that the network cannot run at."""


def smallest_side(pipeline) -> int:
    """Smallest height and width ``pipeline`` runs at, found by running it on zeros (a few tiny calls).

    The graph pads to its ``pad_multiple`` m itself, so a side in ((k-1)m, km] runs exactly when km
    does: the answer is (k-1)m + 1 for the first k that runs. Which k depends on the layers (the
    small test networks run at 1x1, the embedded ones need 17x17), so it is measured, not assumed.
    """
    import torch

    multiple = max(int(pipeline.cfg.pad_multiple), 1)
    was_training = pipeline.training
    pipeline.eval()
    try:
        for k in range(1, PROBE_UP_TO // multiple + 1):
            try:
                with torch.inference_mode():
                    pipeline(torch.zeros(1, 3, k * multiple, k * multiple))
            except RuntimeError as exc:
                if "padding" not in str(exc).lower():  # not a size problem: no size would help, let frames show it
                    return 1
                continue
            return (k - 1) * multiple + 1
    finally:
        pipeline.train(was_training)
    return 1  # no small size runs: frames go as they are, and say why themselves


def pad_to_min(rgb: np.ndarray, side: int) -> np.ndarray:
    """Pad bottom and right up to ``side`` (mirrored without repeating the edge where the frame allows, repeated otherwise)."""
    height, width = rgb.shape[:2]
    pad_h, pad_w = max(side - height, 0), max(side - width, 0)
    if not (pad_h or pad_w):
        return rgb
    mirror = pad_h < height and pad_w < width
    return cv2.copyMakeBorder(rgb, 0, pad_h, 0, pad_w, cv2.BORDER_REFLECT_101 if mirror else cv2.BORDER_REPLICATE)


def spec_smallest_side(spec) -> int:
    """``smallest_side`` of the networks an ``EngineSpec`` names (its checkpoint, or its config's random weights)."""
    import torch

    from derain_seg_ros.nets.pipeline import DerainSegPipeline
    from derain_seg_ros.runtime.checkpoint import load_pipeline

    if spec.checkpoint is not None:
        return smallest_side(load_pipeline(spec.checkpoint)[0])
    with torch.random.fork_rng(devices=[]):  # random weights, without moving the caller's RNG
        return smallest_side(DerainSegPipeline.from_config(spec.config))


def check_export_size(height: int, width: int, side: int) -> None:
    """A graph exported at a fixed size cannot pad itself up: refuse a size below the networks' smallest."""
    if height < side or width < side:
        raise FrameSizeError(
            f"this model runs on frames of at least {side}x{side} (its networks downsample them "
            f"to a few pixels); got {height}x{width}: export at {side}x{side} or more"
        )


class SmallFrameEngine:
    """Any ``Engine`` that also takes frames below its network's smallest size.

    ``side`` may be given later (``side_fn``, called once, on the first small-looking frame), so a
    tool can wrap an engine before it knows which checkpoint's networks it will run."""

    def __init__(self, engine: Engine, side: int | None = None, side_fn=None) -> None:
        self.engine, self._side, self._side_fn = engine, side, side_fn

    @property
    def name(self) -> str:
        return self.engine.name

    @property
    def max_batch(self) -> int:
        return self.engine.max_batch

    @property
    def side(self) -> int:
        if self._side is None:
            self._side = self._side_fn() if self._side_fn is not None else 1
        return self._side

    def infer(self, frames: Sequence[np.ndarray]) -> EngineOutput:
        height, width = check_frames(frames).shape[1:3]
        if height >= self.side and width >= self.side:
            return self.engine.infer(frames)
        out = self.engine.infer([pad_to_min(f, self.side) for f in frames])
        return EngineOutput(
            np.ascontiguousarray(out.derained[:, :height, :width]), np.ascontiguousarray(out.labels[:, :height, :width])
        )

    def close(self) -> None:
        self.engine.close()
