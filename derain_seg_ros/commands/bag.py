"""Derain and segment every camera frame of a rosbag2 offline, or write a demo bag to try it on.

derain-seg bag IN OUT writes a new bag OUT with every message of IN plus, per camera namespace,
derained/image (rgb8), segmentation/label (mono8 trainIds) and segmentation/color (rgb8 overlay)
at the input's timestamps. Weights: the embedded model shipped in the package unless --checkpoint
names a pipeline checkpoint (.pt) or an exported graph (.onnx, fixed size: frames are resized to it
and back). derain-seg bag --make-demo FILE writes a synthetic rainy drive.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from derain_seg_ros.commands.engine_args import add_engine_arguments
from derain_seg_ros.data.io import parse_size
from derain_seg_ros.validate import UNIT_INTERVAL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, nargs="?", help="rosbag2 folder (sqlite3 or mcap)")
    parser.add_argument("output", type=Path, nargs="?", help="output bag folder (must not exist)")
    parser.add_argument("--topics", nargs="*", help="image topics to process (default: every Image/CompressedImage)")
    add_engine_arguments(parser, "torch", "onnxruntime and tensorrt compile one engine per frame size")
    parser.add_argument(
        "--size",
        type=parse_size,
        metavar="HxW",
        help="processing size, as the node's process_height/width (default: each camera's own)",
    )
    parser.add_argument(
        "--overlay-alpha", type=UNIT_INTERVAL, default=0.5, help="weight of the label colours in the overlay, in [0, 1]"
    )
    parser.add_argument(
        "--metadata-version", type=int, default=5, choices=(5, 8), help="5 plays on Humble and Jazzy; 8 is rosbags' own"
    )
    parser.add_argument(
        "--make-demo", type=Path, metavar="FILE", help="write a demo bag of a synthetic rainy drive and exit"
    )
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3", help="storage of the demo bag")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from derain_seg_ros.destinations import check_new_dir

    if args.make_demo:
        from derain_seg_ros.bags.demo_drive import make_demo_bag

        check_new_dir(args.make_demo, "--make-demo")

        logging.info("wrote demo bag %s", make_demo_bag(args.make_demo, storage=args.storage))
        return 0
    if args.input is None or args.output is None:
        raise SystemExit("error: derain-seg bag needs IN and OUT (or --make-demo FILE)")
    from derain_seg_ros.bags.replay import open_reader, process_bag
    from derain_seg_ros.runtime.engine_spec import EngineSpec
    from derain_seg_ros.runtime.per_size_engine import engine_for_any_size
    from derain_seg_ros.runtime.shipped import resolve_checkpoint

    check_new_dir(args.output)  # before the engine is built: a mistake here costs nothing
    spec = EngineSpec(
        args.backend,
        resolve_checkpoint(args.checkpoint, getattr(args, "model", None)),
        precision=args.precision,
        cache_dir=args.cache_dir,
    )
    open_reader(args.input).close()  # likewise a missing, foreign or damaged input
    engine = engine_for_any_size(spec)
    try:
        summary = process_bag(
            args.input,
            args.output,
            engine,
            args.topics,
            args.overlay_alpha,
            args.metadata_version,
            process_size=args.size,
        )
    finally:
        engine.close()
    # process_bag has logged the counts and every skipped frame; only the outcome is left to say.
    if summary.unreadable or summary.damaged:
        print(f"warning: the input bag is damaged (see above); {args.output} holds what could be read")
        return 1
    print(f"wrote {args.output}")
    return 0


def interrupted_note(args: argparse.Namespace) -> str:
    return f"no bag written: {args.output or args.make_demo} is only created complete"
