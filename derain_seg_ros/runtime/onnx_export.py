"""ONNX export of the deployed graph (uint8 frames in, uint8 maps out).

Exporter: the TorchScript-based exporter, chosen explicitly (``dynamo=False``). On torch 2.13
``torch.export`` fails on this graph (strict and non-strict), and the TorchScript exporter emits a
flat opset-17 graph that TensorRT 10's parser and onnxruntime both take. Opset 17 is the highest
that every TensorRT 10.x parser supports fully. Frame height and width are fixed at export (the
padding to the network's stride is baked in); ``dynamic_batch`` leaves the batch free.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path

import torch

from derain_seg_ros.fileio import atomic_path
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.runtime.frame_pipeline import OUTPUT_NAMES, FramePipeline

OPSET = 17
log = logging.getLogger(__name__)


def export_onnx(
    pipeline: torch.nn.Module,
    out: str | os.PathLike,
    height: int,
    width: int,
    batch: int = 1,
    dynamic_batch: bool = False,
    with_logits: bool = False,
    half: bool = False,
) -> Path:
    """Trace ``FramePipeline(pipeline)`` at H x W and write a checked ONNX file atomically.

    ``half`` exports the network in float16 (for TensorRT 11's strongly typed networks, where
    precision comes from the graph, not from a builder flag).
    """
    import onnx

    out = Path(out)
    model = FramePipeline(pipeline, with_logits=with_logits).eval()
    if half:
        model = model.half()
    dummy = torch.zeros(batch, height, width, 3, dtype=torch.uint8)
    names = list(OUTPUT_NAMES) + (["logits"] if with_logits else [])
    dynamic_axes = {n: {0: "batch"} for n in ["rainy", *names]} if dynamic_batch else None
    with atomic_path(out, suffix=".onnx") as tmp, torch.no_grad(), warnings.catch_warnings():
        # Expected and harmless here: sizes are fixed by design (tracer), the exporter is chosen on purpose.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        torch.onnx.export(model, (dummy,), str(tmp), dynamo=False, opset_version=OPSET, input_names=["rainy"],
                          output_names=names, dynamic_axes=dynamic_axes, do_constant_folding=True)
        onnx.checker.check_model(str(tmp))
    log.info("exported %s (%dx%d, batch %s)", out, height, width, "dynamic" if dynamic_batch else batch)
    return out


def ensure_onnx(checkpoint, config: PipelineConfig | None, height: int, width: int, batch: int, precision: str,
                cache_dir: Path, seed: int = 0) -> Path:
    """The ONNX file for (weights, size, batch, precision), exported once into ``cache_dir``.

    ``batch`` > 1 is a maximum, not a fixed size: the node sends whatever frames are waiting
    (one camera or several), so the graph's batch axis is left free and engines cap it.
    """
    from derain_seg_ros.runtime.torch_engine import build_pipeline

    source = Path(checkpoint).read_bytes() if checkpoint is not None else repr((config, seed)).encode()
    key = hashlib.sha256(source + f"|{height}x{width}|b{batch}|{precision}|opset{OPSET}".encode()).hexdigest()[:16]
    path = cache_dir / f"pipeline_{height}x{width}_b{batch}_{precision}_{key}.onnx"
    if not path.is_file():
        export_onnx(build_pipeline(checkpoint, config, seed).eval(), path, height, width, batch, dynamic_batch=batch > 1,
                    half=precision == "fp16" and _trt_is_strongly_typed())
    return path


def _trt_is_strongly_typed() -> bool:
    try:
        import tensorrt as trt
    except ImportError:
        return False
    return int(trt.__version__.split(".")[0]) >= 11
