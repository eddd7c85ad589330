"""One ``Engine`` interface over torch, onnxruntime and TensorRT, and the factory that picks one.

The node, the bag tool and ``derain-seg infer`` only ever see ``Engine.infer``; which backend runs
is a parameter, and ``backend='auto'`` says in the log what it chose and why it skipped the others.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.nets.config import PipelineConfig

log = logging.getLogger(__name__)

Backend = Literal["auto", "torch", "onnxruntime", "tensorrt"]
Precision = Literal["fp32", "fp16", "bf16"]
AUTO_ORDER: tuple[str, ...] = ("tensorrt", "onnxruntime", "torch")


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


def default_cache_dir() -> Path:
    return Path(os.environ.get("DERAIN_SEG_CACHE", Path.home() / ".cache" / "derain_seg_ros"))


def make_engine(
    backend: Backend = "auto",
    checkpoint: str | os.PathLike | None = None,
    *,
    config: PipelineConfig | None = None,
    precision: Precision = "fp32",
    height: int | None = None,
    width: int | None = None,
    batch: int = 1,
    cache_dir: str | os.PathLike | None = None,
    fallback: bool = True,
    device: str | None = None,
    cuda_graph: bool = False,
    seed: int = 0,
) -> Engine:
    """Build an engine. ONNX-based backends need the frame size (``height``, ``width``) up front;
    ``batch`` is the most frames one ``infer`` call takes (the node's cameras).

    ``checkpoint=None`` with a ``config`` gives seeded random weights (tests, demos). With
    ``fallback`` an unavailable backend hands over to the next one of ``AUTO_ORDER``.
    """
    if checkpoint is None and config is None:
        raise ValueError("make_engine needs a checkpoint, or a config for randomly initialised weights")
    if checkpoint is not None and not Path(checkpoint).is_file():
        from derain_seg_ros.runtime.checkpoint import CheckpointError

        raise CheckpointError(f"checkpoint not found: {checkpoint}")  # before any backend hashes or exports it
    if backend != "auto" and backend not in AUTO_ORDER:
        raise ValueError(f"unknown backend {backend!r}; choose auto, {', '.join(AUTO_ORDER)}")
    order = AUTO_ORDER if backend == "auto" else (backend,) + (AUTO_ORDER[AUTO_ORDER.index(backend) + 1:] if fallback else ())
    reasons: list[str] = []
    for name in order:
        try:
            engine = _build(name, checkpoint, config, precision, height, width, batch,
                            Path(cache_dir) if cache_dir else default_cache_dir(), device, cuda_graph, seed, fallback)
        except BackendUnavailable as exc:
            reasons.append(f"{name}: {exc}")
            log.warning("backend %s unavailable: %s", name, exc)
            continue
        if reasons:
            log.info("using backend %s (skipped %s)", name, "; ".join(reasons))
        return engine
    raise BackendUnavailable("no backend could run: " + "; ".join(reasons))


def _build(name: str, checkpoint, config, precision, height, width, batch, cache_dir: Path, device, cuda_graph, seed,
           fallback: bool) -> Engine:
    if name == "torch":
        import torch

        from derain_seg_ros.runtime.torch_engine import TorchEngine

        if fallback and precision != "fp32" and not torch.cuda.is_available() and device in (None, "cpu"):
            log.warning("torch on the CPU runs fp32 only; %s requested, running fp32", precision)
            precision = "fp32"
        return TorchEngine.create(checkpoint, config=config, precision=precision, device=device, cuda_graph=cuda_graph, seed=seed)
    if height is None or width is None:
        raise BackendUnavailable("needs the frame size (height, width) to export its ONNX graph")
    from derain_seg_ros.runtime.onnx_export import ensure_onnx

    if name == "onnxruntime":
        from derain_seg_ros.runtime.ort_engine import OrtEngine, ort_available

        ort_available(precision)
        onnx_path = ensure_onnx(checkpoint, config, height, width, batch, precision, cache_dir, seed)
        return OrtEngine(onnx_path, precision=precision, max_batch=batch)
    if name == "tensorrt":
        from derain_seg_ros.runtime.trt_engine import TensorRTEngine, trt_available

        trt_available()
        onnx_path = ensure_onnx(checkpoint, config, height, width, batch, precision, cache_dir, seed)
        return TensorRTEngine.from_onnx(onnx_path, precision=precision, batch=batch, cache_dir=cache_dir)
    raise ValueError(f"unknown backend {name!r}")
