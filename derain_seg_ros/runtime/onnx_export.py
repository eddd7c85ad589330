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

from derain_seg_ros.fileio import atomic_path, remove_stale_temps
from derain_seg_ros.runtime.checkpoint import build_pipeline
from derain_seg_ros.runtime.engine_spec import EngineSpec
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
    remove_stale_temps(out, ".onnx")  # an earlier export's temp file, left when it was killed
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
        torch.onnx.export(
            model,
            (dummy,),
            str(tmp),
            dynamo=False,
            opset_version=OPSET,
            input_names=["rainy"],
            output_names=names,
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
        onnx.checker.check_model(str(tmp))
    log.info("exported %s (%dx%d, batch %s)", out, height, width, "dynamic" if dynamic_batch else batch)
    return out


def ensure_onnx(spec: EngineSpec, half: bool = False) -> Path:
    """The ONNX file for the spec's weights, size and batch, exported once into its cache folder.

    Keyed by what the file holds: the weights, size, batch, the graph's float type (``half``), the
    opset and the bypassed parts; not by the precision an engine is then built in (TensorRT 10 builds fp32 and fp16
    engines from one fp32 graph). ``batch`` > 1 is a maximum, not a fixed size: the node sends
    whatever frames are waiting (one camera or several), so the graph's batch axis is left free.
    """
    if spec.size is None:
        raise ValueError("ensure_onnx needs the spec's frame size")
    height, width = spec.size
    source = spec.checkpoint.read_bytes() if spec.checkpoint is not None else repr((spec.config, spec.seed)).encode()
    dtype = "fp16" if half else "fp32"
    bypass = "" if spec.bypass == "none" else f"|bypass={spec.bypass}"  # "none" keeps the keys of earlier caches
    key = hashlib.sha256(source + f"|{height}x{width}|b{spec.batch}|{dtype}|opset{OPSET}{bypass}".encode()).hexdigest()[
        :16
    ]
    path = spec.cache / f"pipeline_{height}x{width}_b{spec.batch}_{dtype}_{key}.onnx"
    if not path.is_file():
        pipeline = build_pipeline(spec.checkpoint, spec.config, spec.seed, spec.bypass).eval()
        export_onnx(pipeline, path, height, width, spec.batch, dynamic_batch=spec.batch > 1, half=half)
    return path
