"""onnxruntime engine: runs the exported graph (CPU here; CUDA/TensorRT providers where installed)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from derain_seg_ros.runtime.engine import BackendUnavailable, EngineOutput, check_frames

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def ort_available(precision: str) -> None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable("onnxruntime is not installed (pip install onnxruntime or onnxruntime-gpu)") from exc
    if precision != "fp32":
        raise BackendUnavailable(f"the onnxruntime engine runs fp32 graphs only, not {precision}")


class OrtEngine:
    name = "onnxruntime"

    def __init__(self, onnx_path: str | os.PathLike, precision: str = "fp32", max_batch: int = 64) -> None:
        import onnxruntime as ort

        available = ort.get_available_providers()
        providers = [p for p in PREFERRED_PROVIDERS if p in available]
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_path), options, providers=providers)
        self.providers = self.session.get_providers()
        shape = self.session.get_inputs()[0].shape
        self.batch = shape[0] if isinstance(shape[0], int) else None  # None: dynamic batch axis
        self.max_batch = self.batch or max_batch
        self.size = (shape[1], shape[2])

    def infer(self, frames: Sequence[np.ndarray]) -> EngineOutput:
        batch = check_frames(frames)
        if batch.shape[1:3] != self.size:
            raise ValueError(f"this ONNX graph was exported for {self.size[0]}x{self.size[1]} frames, got {batch.shape[1]}x{batch.shape[2]}")
        if self.batch is not None and len(batch) != self.batch:
            raise ValueError(f"this ONNX graph takes batches of {self.batch}, got {len(batch)}")
        if len(batch) > self.max_batch:
            raise ValueError(f"this engine takes at most {self.max_batch} frames per call, got {len(batch)}")
        derained, labels = self.session.run(["derained", "labels"], {"rainy": batch})
        return EngineOutput(derained=derained, labels=labels)

    def close(self) -> None:
        self.session = None
