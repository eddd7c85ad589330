"""onnxruntime engine: runs the exported graph (CPU here; CUDA/TensorRT providers where installed).

It runs either the graph the cache exports from a checkpoint, or an ONNX file a user exported
(``derain-seg export``). Such a file has one frame size and, unless exported with ``--dynamic``,
one batch size: both are read from the graph and checked against the spec up front.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from derain_seg_ros.runtime.checkpoint import CheckpointError
from derain_seg_ros.runtime.engine import BackendUnavailable, EngineOutput, check_frames
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.onnx_export import ensure_onnx

PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def onnx_input_shape(path: str | os.PathLike) -> tuple[int | None, int, int]:
    """(batch or None when dynamic, height, width) of an exported graph's ``rainy`` input."""
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
        dims = [d.dim_value if d.HasField("dim_value") else None for d in graph.input[0].type.tensor_type.shape.dim]
    except Exception as exc:  # protobuf raises several types for foreign files
        raise CheckpointError(f"cannot read ONNX graph {path}: {exc}") from exc
    if len(dims) != 4 or dims[3] != 3 or dims[1] is None or dims[2] is None:
        raise CheckpointError(f"{path} is not a derain_seg_ros export (input N x H x W x 3 uint8 expected, got {dims})")
    return dims[0], dims[1], dims[2]


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

    @staticmethod
    def resolve(spec: EngineSpec) -> tuple[EngineSpec, str | None]:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(
                "onnxruntime is not installed (pip install onnxruntime or onnxruntime-gpu)"
            ) from exc
        if spec.precision != "fp32":
            raise BackendUnavailable(f"the onnxruntime engine runs fp32 graphs only, not {spec.precision}")
        if not spec.is_onnx_file:
            if spec.size is None:
                raise BackendUnavailable("needs the frame size (height, width) to export its ONNX graph")
            return spec, None
        batch, height, width = onnx_input_shape(spec.checkpoint)
        name = spec.checkpoint.name
        if spec.size is not None and spec.size != (height, width):
            raise CheckpointError(
                f"{name} was exported for {height}x{width} frames, not {spec.size[0]}x{spec.size[1]}; "
                "export it at that size, or give the .pt checkpoint"
            )
        if batch is not None and batch != spec.batch:
            raise CheckpointError(
                f"{name} takes batches of exactly {batch}, and {spec.batch} frame(s) per call are sent; "
                f"export it with --batch {spec.batch} or --dynamic"
            )
        return spec.with_(size=(height, width)), None

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> OrtEngine:
        path = spec.checkpoint if spec.is_onnx_file else ensure_onnx(spec)
        return cls(path, precision=spec.precision, max_batch=spec.batch)

    def infer(self, frames: Sequence[np.ndarray]) -> EngineOutput:
        batch = check_frames(frames)
        if batch.shape[1:3] != self.size:
            raise ValueError(
                f"this ONNX graph was exported for {self.size[0]}x{self.size[1]} frames, got {batch.shape[1]}x{batch.shape[2]}"
            )
        if self.batch is not None and len(batch) != self.batch:
            raise ValueError(f"this ONNX graph takes batches of {self.batch}, got {len(batch)}")
        if len(batch) > self.max_batch:
            raise ValueError(f"this engine takes at most {self.max_batch} frames per call, got {len(batch)}")
        derained, labels = self.session.run(["derained", "labels"], {"rainy": batch})
        return EngineOutput(derained=derained, labels=labels)

    def close(self) -> None:
        self.session = None
