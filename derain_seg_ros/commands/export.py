"""Export the pipeline as ONNX, or prebuild the TensorRT engine the node will load.

The graph takes uint8 RGB frames (N x H x W x 3, input 'rainy') and returns uint8 derained frames
('derained') and uint8 trainId maps ('labels'), optionally float 'logits'; its frame size is fixed.
Weights: the embedded model shipped in the package unless --checkpoint names a pipeline
checkpoint (.pt). With --build-engine it builds and caches the very engine the node asks for
(same factory, same cached graph, same key), so a car never waits for a build at start-up.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from derain_seg_ros.validate import POSITIVE_INT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, help="pipeline checkpoint .pt (default: the shipped embedded model)")
    parser.add_argument("--height", type=POSITIVE_INT, required=True, help="frame height the graph is fixed to")
    parser.add_argument("--width", type=POSITIVE_INT, required=True, help="frame width the graph is fixed to")
    parser.add_argument(
        "--batch", type=POSITIVE_INT, default=1, help="frames per call (the most, with --dynamic or --build-engine)"
    )
    parser.add_argument("--dynamic", action="store_true", help="dynamic batch dimension (1..--batch)")
    parser.add_argument("--logits", action="store_true", help="also output the float logits")
    parser.add_argument("--half", action="store_true", help="float16 graph (TensorRT 11 strongly typed FP16)")
    parser.add_argument(
        "--out",
        type=Path,
        help="ONNX file (default: pipeline_HxW_bB.onnx; "
        "with --build-engine a copy of the engine's graph, written only when given)",
    )
    parser.add_argument("--build-engine", action="store_true", help="build and cache the TensorRT engine too")
    parser.add_argument("--precision", default="fp16", choices=("fp32", "fp16", "bf16"), help="TensorRT precision")
    parser.add_argument(
        "--cache-dir", type=Path, help="exported graphs and built engines (default: ~/.cache/derain_seg_ros)"
    )


def default_out(args: argparse.Namespace) -> Path:
    return Path(f"pipeline_{args.height}x{args.width}_b{args.batch}.onnx")


def run(args: argparse.Namespace, load: Callable[[Path], tuple[Any, Any]] | None = None) -> int:
    """``load``: how a checkpoint becomes a pipeline (default: the package's own; train/baselines passes its own)."""
    from derain_seg_ros.destinations import check_out_dir, check_out_file
    from derain_seg_ros.runtime.checkpoint import load_pipeline
    from derain_seg_ros.runtime.shipped import resolve_checkpoint
    from derain_seg_ros.runtime.small_frames import check_export_size, smallest_side

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.height < 1 or args.width < 1 or args.batch < 1:
        raise SystemExit("error: --height, --width and --batch must be positive")
    if args.out is not None or not args.build_engine:  # before minutes of export, not after
        check_out_file(args.out or default_out(args))
    if args.cache_dir is not None:
        check_out_dir(args.cache_dir, "--cache-dir")
    checkpoint = resolve_checkpoint(args.checkpoint, getattr(args, "model", None))
    pipeline, _ = (load or load_pipeline)(checkpoint)
    check_export_size(args.height, args.width, smallest_side(pipeline))  # before a long export fails, not during it
    if args.build_engine:
        return _build_engine(args, checkpoint)
    from derain_seg_ros.runtime.onnx_export import export_onnx

    out = args.out or default_out(args)
    export_onnx(
        pipeline.eval(), out, args.height, args.width, args.batch, args.dynamic, args.logits, args.half
    )  # logs the path
    return 0


def _build_engine(args: argparse.Namespace, checkpoint: Path) -> int:
    """Build the very engine the node will ask for: same factory, same cached ONNX, same cache key.

    An engine built from a separately exported ONNX file would carry another file hash, and the
    node would rebuild at start-up, which is what prebuilding is meant to avoid.
    """
    from derain_seg_ros.runtime.engine import BackendUnavailable
    from derain_seg_ros.runtime.engine_spec import EngineSpec
    from derain_seg_ros.runtime.factory import make_engine

    if args.dynamic or args.logits or args.half:
        raise SystemExit(
            "error: --build-engine builds the node's own graph (batch 1..--batch, uint8 outputs, "
            "precision from --precision); drop --dynamic, --logits and --half"
        )
    spec = EngineSpec(
        "tensorrt",
        checkpoint,
        precision=args.precision,
        size=(args.height, args.width),
        batch=args.batch,
        cache_dir=args.cache_dir,
        fallback=False,
    )
    try:
        engine = make_engine(spec)
    except BackendUnavailable as exc:
        raise SystemExit(f"error: cannot build the TensorRT engine here: {exc}") from None
    engine.close()
    if args.out:
        shutil.copyfile(engine.onnx_path, args.out)
        logging.info("copied its graph to %s", args.out)
    logging.info("TensorRT engine and its ONNX graph cached in %s", spec.cache)
    return 0
