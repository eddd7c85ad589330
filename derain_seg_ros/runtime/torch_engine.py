"""The PyTorch engine: eval mode, CUDA when present, autocast fp16/bf16, optional CUDA graphs."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch

from derain_seg_ros.nets.pipeline import DerainSegPipeline
from derain_seg_ros.runtime.checkpoint import build_pipeline
from derain_seg_ros.runtime.engine import BackendUnavailable, EngineOutput, check_frames
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.frame_pipeline import FramePipeline
from derain_seg_ros.runtime.precision import cuda_precision_problem, precision_or_fp32

AUTOCAST_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


class TorchEngine:
    name = "torch"
    max_batch = 64

    def __init__(
        self, pipeline: DerainSegPipeline, precision: str = "fp32", device: str | None = None, cuda_graph: bool = False
    ) -> None:
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if problem := cuda_precision_problem(precision, self.device.type):
            raise BackendUnavailable(problem)
        if cuda_graph and self.device.type != "cuda":
            raise BackendUnavailable("CUDA graphs need a CUDA device")
        self.precision = precision
        # NHWC: tensor cores on a GPU, oneDNN's fast convolutions on a CPU (bench/RESULTS.md)
        self.model = FramePipeline(pipeline).to(self.device, memory_format=torch.channels_last).eval()
        self.cuda_graph = cuda_graph
        self._graph: torch.cuda.CUDAGraph | None = None
        self._static_in: torch.Tensor | None = None
        self._static_out: tuple[torch.Tensor, ...] = ()

    @staticmethod
    def resolve(spec: EngineSpec) -> tuple[EngineSpec, str | None]:
        """The spec this backend really builds (device chosen; fp32 on a CPU when fallback allows it),
        and a note when that differs from what was asked."""
        if spec.is_onnx_file:
            raise BackendUnavailable(
                f"it runs pipeline checkpoints (.pt); {spec.checkpoint.name} is an exported ONNX graph"
            )
        device = torch.device(spec.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        resolved = spec.with_(device=str(device))
        if spec.cuda_graph and device.type != "cuda":
            raise BackendUnavailable("CUDA graphs need a CUDA device")
        return precision_or_fp32(resolved, cuda_precision_problem(spec.precision, device.type))

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> TorchEngine:
        return cls(
            build_pipeline(spec.checkpoint, spec.config, spec.seed, spec.bypass),
            spec.precision,
            spec.device,
            spec.cuda_graph,
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=AUTOCAST_DTYPES[self.precision])

    @torch.inference_mode()
    def run_tensor(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 N x H x W x 3 on any device -> (derained, labels) on this engine's device."""
        frames = frames.to(self.device, non_blocking=True)
        if self.cuda_graph:
            return self._replay(frames)
        with self._autocast():
            return self.model(frames)

    def _replay(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Capture once per input shape, then replay: removes per-kernel launch overhead."""
        if self._static_in is None or self._static_in.shape != frames.shape:
            self._static_in = frames.clone()
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream), self._autocast():
                for _ in range(3):
                    self.model(self._static_in)
            torch.cuda.current_stream().wait_stream(stream)
            self._graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self._graph), self._autocast():
                self._static_out = self.model(self._static_in)
        self._static_in.copy_(frames)
        self._graph.replay()
        return tuple(t.clone() for t in self._static_out)  # type: ignore[return-value]

    def infer(self, frames: Sequence[np.ndarray]) -> EngineOutput:
        batch = torch.from_numpy(check_frames(frames))
        derained, labels = self.run_tensor(batch)
        return EngineOutput(derained=derained.cpu().numpy(), labels=labels.cpu().numpy())

    def close(self) -> None:
        self._graph = None
        self._static_out = ()
