"""``derain-seg bag IN OUT``: derain and segment every camera frame of a rosbag2, offline.
``derain-seg bag --make-demo FILE``: write a synthetic rainy drive to try it on."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from derain_seg_ros.data.io import parse_size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, nargs="?", help="rosbag2 folder (sqlite3 or mcap)")
    parser.add_argument("output", type=Path, nargs="?", help="output bag folder (must not exist)")
    parser.add_argument("--topics", nargs="*", help="image topics to process (default: every Image/CompressedImage)")
    parser.add_argument("--checkpoint", type=Path, help="pipeline checkpoint (default: small random network)")
    parser.add_argument("--backend", default="torch", choices=("auto", "torch", "onnxruntime", "tensorrt"))
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"))
    parser.add_argument("--size", type=parse_size, metavar="HxW",
                        help="processing size, as the node's process_height/width (default: each camera's own)")
    parser.add_argument("--cache-dir", type=Path, help="ONNX/TensorRT engine cache (default ~/.cache/derain_seg_ros)")
    parser.add_argument("--overlay-alpha", type=float, default=0.5)
    parser.add_argument("--metadata-version", type=int, default=5, choices=(5, 8),
                        help="5: plays on Humble and Jazzy (default); 8: rosbags' own")
    parser.add_argument("--make-demo", type=Path, metavar="FILE", help="write a demo bag of a synthetic rainy drive")
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3", help="storage of the demo bag")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.make_demo:
        from derain_seg_ros.ros.demo_bag import make_demo_bag

        logging.info("wrote demo bag %s", make_demo_bag(args.make_demo, storage=args.storage))
        return 0
    if args.input is None or args.output is None:
        raise SystemExit("derain-seg bag needs IN and OUT (or --make-demo FILE)")
    from derain_seg_ros.nets.config import PipelineConfig
    from derain_seg_ros.ros.bag import process_bag
    from derain_seg_ros.runtime.engine import make_engine
    from derain_seg_ros.runtime.per_size_engine import PerSizeEngine

    if args.checkpoint is None:
        logging.warning("no --checkpoint: a small random network (the outputs show the wiring only)")
    config = None if args.checkpoint else PipelineConfig.small()
    engine = PerSizeEngine(lambda height, width: make_engine(args.backend, args.checkpoint, config=config,
                                                             precision=args.precision, height=height, width=width,
                                                             cache_dir=args.cache_dir))
    try:
        summary = process_bag(args.input, args.output, engine, args.topics, args.overlay_alpha, args.metadata_version,
                              process_size=args.size)
    finally:
        engine.close()
    for topic, stamp, reason in summary.skipped:
        logging.warning("skipped %s @ %d: %s", topic, stamp, reason)
    print(f"{summary.frames} frames processed, {summary.outputs} output messages, {len(summary.skipped)} skipped -> {args.output}")
    if summary.unreadable:
        print(f"warning: the input bag is damaged; {args.output} holds what could be read: {summary.unreadable}")
        return 1
    return 0
