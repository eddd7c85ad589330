"""``derain-seg export``: the pipeline as ONNX (uint8 frames in, uint8 maps out), and optionally a
prebuilt TensorRT engine in the cache, so a car never waits for a build at start-up."""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dynamic", action="store_true", help="dynamic batch dimension (1..--batch)")
    parser.add_argument("--logits", action="store_true", help="also output the float logits")
    parser.add_argument("--half", action="store_true", help="float16 graph (TensorRT 11 strongly typed FP16)")
    parser.add_argument("--out", type=Path, default=None, help="ONNX file (default pipeline_HxW_bB.onnx; "
                        "with --build-engine only written when given)")
    parser.add_argument("--build-engine", action="store_true", help="build and cache the TensorRT engine too")
    parser.add_argument("--precision", default="fp16", choices=("fp32", "fp16", "bf16"), help="TensorRT precision")
    parser.add_argument("--cache-dir", type=Path, default=None)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.build_engine:
        return _build_engine(args)
    from derain_seg_ros.runtime.checkpoint import load_pipeline
    from derain_seg_ros.runtime.onnx_export import export_onnx

    pipeline, _ = load_pipeline(args.checkpoint)
    out = args.out or Path(f"pipeline_{args.height}x{args.width}_b{args.batch}.onnx")
    export_onnx(pipeline.eval(), out, args.height, args.width, args.batch, args.dynamic, args.logits, args.half)
    print(f"wrote {out}")
    return 0


def _build_engine(args: argparse.Namespace) -> int:
    """Build the very engine the node will ask for: same factory, same cached ONNX, same cache key.

    An engine built from a separately exported ONNX file would carry another file hash, and the
    node would rebuild at start-up, which is what prebuilding is meant to avoid.
    """
    from derain_seg_ros.runtime.engine import BackendUnavailable, default_cache_dir, make_engine
    from derain_seg_ros.runtime.onnx_export import ensure_onnx

    if args.dynamic or args.logits or args.half:
        raise SystemExit("error: --build-engine builds the node's own graph (batch 1..--batch, uint8 outputs, "
                         "precision from --precision); drop --dynamic, --logits and --half")
    cache_dir = args.cache_dir or default_cache_dir()
    try:
        engine = make_engine("tensorrt", args.checkpoint, precision=args.precision, height=args.height, width=args.width,
                             batch=args.batch, cache_dir=cache_dir, fallback=False)
    except BackendUnavailable as exc:
        raise SystemExit(f"cannot build the TensorRT engine here: {exc}") from None
    engine.close()
    onnx_path = ensure_onnx(args.checkpoint, None, args.height, args.width, args.batch, args.precision, cache_dir)
    if args.out:
        shutil.copyfile(onnx_path, args.out)
        print(f"wrote {args.out}")
    print(f"TensorRT engine and its ONNX graph cached in {cache_dir}")
    return 0
