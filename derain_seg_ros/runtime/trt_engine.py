"""TensorRT engine: build from the exported ONNX graph, cache on disk, run with execute_async_v3.

TensorRT 10: FP16/BF16 through builder flags on a weakly typed network. TensorRT 11 removed weak
typing: networks are strongly typed and take their precision from the graph, so FP16 there means
an ONNX exported in half precision, and BF16 (which the export does not produce) resolves to
FP32, said once in the log and keyed as fp32 in the cache. Device buffers are torch CUDA tensors,
so no pycuda is needed.

A build takes minutes and runs inside one C++ call, where Python's signal handlers do not run:
``spec.stop`` (the node's "a SIGINT/SIGTERM arrived") is polled from TensorRT's progress monitor
after every build step, and a True answer cancels the build (``BuildCancelled``, nothing cached),
so Ctrl-C and ros2 launch's SIGINT are honoured within a step instead of ending in launch's SIGKILL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from derain_seg_ros.errors import DerainSegError
from derain_seg_ros.fileio import atomic_write_bytes
from derain_seg_ros.runtime.engine import BackendUnavailable, EngineOutput, check_frames
from derain_seg_ros.runtime.engine_cache import EngineKey, load_or_build
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.onnx_export import ensure_onnx
from derain_seg_ros.runtime.precision import precision_or_fp32

log = logging.getLogger(__name__)
WORKSPACE_BYTES = 4 << 30


def trt_version() -> str:
    """TensorRT's version, or BackendUnavailable when it cannot run here."""
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendUnavailable(
            "tensorrt is not installed (pip install 'derain_seg_ros[tensorrt]', see docs/deploy.md)"
        ) from exc
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailable("TensorRT needs a CUDA GPU and torch with CUDA; none found")
    return tensorrt.__version__


def gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name()


class BuildCancelled(DerainSegError, RuntimeError):
    """The engine build was stopped on request (a signal); nothing was cached."""


def stop_monitor(trt, stop: Callable[[], bool]):
    """A TensorRT progress monitor whose every step asks ``stop()``; returning False cancels the build."""

    class StopMonitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name, parent_phase, num_steps) -> None:
            pass

        def step_complete(self, phase_name, step) -> bool:
            return not stop()

        def phase_finish(self, phase_name) -> None:
            pass

    return StopMonitor()


def strongly_typed(version: str) -> bool:
    """TensorRT >= 11 builds every network strongly typed: precision comes from the graph."""
    return int(version.split(".")[0]) >= 11


def build_engine_bytes(
    onnx_path: Path, precision: str, batch: int, timing_cache: Path, stop: Callable[[], bool] | None = None
) -> bytes:
    """Parse the ONNX file and build a serialised engine (minutes for ResNet-101 at 1024x2048);
    ``stop()`` turning True cancels the build (``BuildCancelled``)."""
    import tensorrt as trt

    log.info(
        "building the TensorRT engine (%s) from %s: this takes minutes for large graphs", precision, onnx_path.name
    )

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    typed = strongly_typed(trt.__version__)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if typed else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision == "fp16" and not typed:
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "bf16" and not typed:
        config.set_flag(trt.BuilderFlag.BF16)
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    rainy = network.get_input(0)
    if rainy.shape[0] == -1:  # dynamic batch: one profile from 1 to the batch asked for
        _, h, w, c = rainy.shape
        profile = builder.create_optimization_profile()
        profile.set_shape(rainy.name, (1, h, w, c), (batch, h, w, c), (batch, h, w, c))
        config.add_optimization_profile(profile)
    if stop is not None:
        config.progress_monitor = stop_monitor(trt, stop)
    started = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if stop is not None and stop():
        raise BuildCancelled(
            f"TensorRT engine build stopped on request after {time.perf_counter() - started:.1f} s; nothing was cached"
        )
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path}")
    atomic_write_bytes(timing_cache, bytes(memoryview(config.get_timing_cache().serialize())))
    log.info("built the TensorRT engine (%s) in %.1f s", precision, time.perf_counter() - started)
    return bytes(serialized)


class TensorRTEngine:
    name = "tensorrt"
    onnx_path: Path | None = None
    cache_state = ""  # "loaded from <dir>" or "built, cached in <dir>": the node's /diagnostics show it

    def __init__(self, engine_bytes: bytes) -> None:
        import tensorrt as trt
        import torch

        self._torch = torch
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self.runtime.deserialize_cuda_engine(engine_bytes)
        if self.engine is None:
            raise RuntimeError("TensorRT could not deserialise the engine")
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        shape = tuple(self.engine.get_tensor_shape("rainy"))
        self.dynamic_batch = shape[0] == -1
        self.size = (shape[1], shape[2])
        self.max_batch = self.engine.get_tensor_profile_shape("rainy", 0)[2][0] if self.dynamic_batch else shape[0]

    @staticmethod
    def resolve(spec: EngineSpec) -> tuple[EngineSpec, str | None]:
        """Decides the precision once: TensorRT 11 cannot build bf16 from our export (see the module)."""
        if spec.is_onnx_file:
            raise BackendUnavailable(
                f"its engines are built from a pipeline checkpoint (.pt) through the cache; "
                f"{spec.checkpoint.name} is an exported ONNX graph (onnxruntime runs it)"
            )
        version = trt_version()
        if spec.size is None:
            raise BackendUnavailable("needs the frame size (height, width) to export its ONNX graph")
        problem = None
        if spec.precision == "bf16" and strongly_typed(version):
            problem = (
                f"TensorRT {version} builds strongly typed networks from the graph's own types; the export has no bf16"
            )
        return precision_or_fp32(spec, problem, "; use fp16 or fp32")

    @classmethod
    def from_spec(cls, spec: EngineSpec) -> TensorRTEngine:
        """Load the engine for ``spec`` (a resolved one) from the cache, or build and cache it."""
        version = trt_version()
        onnx_path = ensure_onnx(spec, half=spec.precision == "fp16" and strongly_typed(version))
        key = EngineKey.for_onnx(onnx_path, spec.precision, version, gpu_name(), spec.batch)
        stop = {"stop": spec.stop} if spec.stop is not None else {}
        engine_bytes, built = load_or_build(
            spec.cache,
            key,
            lambda: build_engine_bytes(
                onnx_path, spec.precision, spec.batch, spec.cache / f"timing_{version}.cache", **stop
            ),
        )
        if not built:  # a build has said so itself
            log.info("TensorRT engine loaded from the cache in %s", spec.cache)
        engine = cls(engine_bytes)
        engine.onnx_path = onnx_path  # what it was built from: `derain-seg export --build-engine --out` copies it
        engine.cache_state = f"built, cached in {spec.cache}" if built else f"loaded from {spec.cache}"
        return engine

    def infer(self, frames: Sequence[np.ndarray]) -> EngineOutput:
        torch = self._torch
        batch = check_frames(frames)
        if batch.shape[1:3] != self.size:
            raise ValueError(
                f"this engine was built for {self.size[0]}x{self.size[1]} frames, got {batch.shape[1]}x{batch.shape[2]}"
            )
        if len(batch) > self.max_batch or (not self.dynamic_batch and len(batch) != self.max_batch):
            limit = f"at most {self.max_batch}" if self.dynamic_batch else f"exactly {self.max_batch}"
            raise ValueError(f"this engine takes {limit} frames per call, got {len(batch)}")
        rainy = torch.from_numpy(batch).cuda(non_blocking=True)
        self.context.set_input_shape("rainy", tuple(rainy.shape))
        n, h, w = rainy.shape[:3]
        derained = torch.empty((n, h, w, 3), dtype=torch.uint8, device="cuda")
        labels = torch.empty((n, h, w), dtype=torch.uint8, device="cuda")
        for name, tensor in (("rainy", rainy), ("derained", derained), ("labels", labels)):
            self.context.set_tensor_address(name, tensor.data_ptr())
        self.stream.wait_stream(torch.cuda.current_stream())
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        self.stream.synchronize()
        return EngineOutput(derained=derained.cpu().numpy(), labels=labels.cpu().numpy())

    def close(self) -> None:
        self.context = None
        self.engine = None
