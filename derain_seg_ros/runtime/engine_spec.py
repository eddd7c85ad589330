"""``EngineSpec``: everything that decides which engine gets built, in one frozen value.

Every caller (node, bag, infer, export, bench) fills one in and hands it to
``factory.make_engine``; the factory resolves it once per backend (which backend, which precision
is really built) and passes the resolved spec down to the ONNX and TensorRT caches, whose keys
come from it. No keyword list is repeated between callers and backends.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.nets.config import PipelineConfig

Backend = Literal["auto", "torch", "onnxruntime", "tensorrt"]
Precision = Literal["fp32", "fp16", "bf16"]
AUTO_ORDER: tuple[str, ...] = ("tensorrt", "onnxruntime", "torch")  # fastest first
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16")


class EngineSpecError(DerainSegError, ValueError):
    """A spec that no backend could ever build (unknown backend, batch 0, no weights)."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("DERAIN_SEG_CACHE", Path.home() / ".cache" / "derain_seg_ros"))


@dataclass(frozen=True)
class EngineSpec:
    """What to build. ``precision`` is the one asked for; the spec the factory resolves for a
    backend holds the one really built (e.g. fp32 for torch on a CPU), and that is what keys caches.
    """

    backend: Backend = "auto"
    checkpoint: Path | None = None  # a pipeline checkpoint (.pt), or an exported graph (.onnx)
    config: PipelineConfig | None = None  # with no checkpoint: seeded random weights (tests, benchmarks)
    seed: int = 0
    precision: Precision = "fp32"
    size: tuple[int, int] | None = None  # (H, W) that ONNX-based backends compile for; torch takes any
    batch: int = 1  # the most frames one infer() call takes (the node's cameras)
    device: str | None = None  # torch: default CUDA when present
    cuda_graph: bool = False  # torch on CUDA: capture once per shape, then replay
    bypass: str = "none"  # PipelineConfig.bypass: "derain" (segmenter alone), "refine" (no SRRN); keys caches too
    cache_dir: Path | None = None  # exported graphs and built engines; None: default_cache_dir()
    fallback: bool = True  # an unavailable backend hands over to the next one of AUTO_ORDER
    # Polled during long builds (TensorRT): True cancels the build. Not part of what is built: no key, no equality.
    stop: Callable[[], bool] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.backend != "auto" and self.backend not in AUTO_ORDER:
            raise EngineSpecError(f"unknown backend {self.backend!r}; choose auto, {', '.join(AUTO_ORDER)}")
        if self.precision not in PRECISIONS:
            raise EngineSpecError(f"unknown precision {self.precision!r}; choose {', '.join(PRECISIONS)}")
        if self.checkpoint is None and self.config is None:
            raise EngineSpecError("an engine needs a checkpoint, or a config for randomly initialised weights")
        if self.batch < 1:
            raise EngineSpecError(f"batch must be at least 1, got {self.batch}")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 1):
            raise EngineSpecError(f"size must be (height, width) in pixels, got {self.size}")
        # Normalised once here, so that equal specs compare (and hash) equal.
        if self.checkpoint is not None:
            object.__setattr__(self, "checkpoint", Path(self.checkpoint))
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        if self.size is not None:
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))

    @property
    def is_onnx_file(self) -> bool:
        """The weights are an exported ONNX graph (fixed size), not a pipeline checkpoint."""
        return self.checkpoint is not None and self.checkpoint.suffix.lower() == ".onnx"

    @property
    def cache(self) -> Path:
        return self.cache_dir or default_cache_dir()

    def candidates(self) -> tuple[str, ...]:
        """The backends to try, in order."""
        if self.backend == "auto":
            return AUTO_ORDER
        following = AUTO_ORDER[AUTO_ORDER.index(self.backend) + 1 :] if self.fallback else ()
        return (self.backend, *following)

    def with_(self, **changes: object) -> EngineSpec:
        return replace(self, **changes)

    def describe(self) -> str:
        """One line for the log: 'onnxruntime fp32, 30x50, batch 1, model.pt'."""
        size = f"{self.size[0]}x{self.size[1]}" if self.size else "any size"
        weights = self.checkpoint.name if self.checkpoint else f"random weights (seed {self.seed})"
        device = f", {self.device}" if self.device else ""
        graph = ", CUDA graph" if self.cuda_graph else ""
        return f"{self.backend} {self.precision}{device}{graph}, {size}, batch {self.batch}, {weights}"
