"""The ``Engine`` interface every backend implements, and what the node and the tools rely on.

Only the interface lives here (no backend, no factory), so that backends, the factory, the node
and the tools all import it without importing each other: ``factory.make_engine`` builds engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from derain_seg_ros.errors import DerainSegError


class BackendUnavailable(DerainSegError, RuntimeError):
    """The backend cannot run here (library missing, no GPU, precision unsupported)."""


@dataclass
class EngineOutput:
    derained: np.ndarray  # uint8 B x H x W x 3 RGB
    labels: np.ndarray  # uint8 B x H x W trainIds


class Engine(Protocol):
    name: str
    max_batch: int

    def infer(self, frames: Sequence[np.ndarray]) -> EngineOutput:
        """Frames: uint8 H x W x 3 RGB, all of one size."""
        ...

    def close(self) -> None: ...


def check_frames(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Stack a batch, refusing anything the graph would silently misread."""
    if len(frames) == 0:
        raise ValueError("infer() needs at least one frame")
    first = frames[0]
    for f in frames:
        if f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
            raise ValueError(f"frames must be uint8 H x W x 3 RGB, got {f.dtype} {f.shape}")
        if f.shape != first.shape:
            raise ValueError(f"frames of one batch must share a size: {first.shape} vs {f.shape}")
    return np.ascontiguousarray(np.stack(frames))
