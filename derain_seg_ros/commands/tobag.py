"""``derain-seg tobag DIR OUT``: image folders -> rosbag2, to replay recorded frames through the
node (``ros2 bag play OUT``) or the bag tool (``derain-seg bag OUT ...``).

DIR in RobotCar(R)'s layout (``left/left_<ts>.png``, ``right/right_<ts>.png``) becomes two cameras,
``/left`` and ``/right``, stamped from the file names where those are UNIX microseconds; any other
folder of images becomes one camera at ``--rate``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from derain_seg_ros.validate import number, positive_number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="image folder: RobotCar(R) (left/, right/) or any folder of png/jpg")
    parser.add_argument("output", type=Path, help="output bag folder (must not exist)")
    parser.add_argument(
        "--layout",
        choices=("auto", "robotcar", "folder"),
        default="auto",
        help="auto: robotcar where left/left_*.png and right/right_*.png exist (default: %(default)s)",
    )
    parser.add_argument("--camera", help="camera namespace for a plain folder (default: the folder's name)")
    parser.add_argument(
        "--rate",
        type=positive_number,
        default=10.0,
        help="frames per second where file names carry no microsecond stamps (default: %(default)s)",
    )
    parser.add_argument(
        "--start", type=number(0, 2**31 - 1), help="first stamp in UNIX seconds for --rate (default: now)"
    )
    parser.add_argument(
        "--transport",
        choices=("raw", "compressed"),
        default="raw",
        help="raw: rgb8 Image on <cam>/image_raw; compressed: the files' own bytes on "
        "<cam>/image_raw/compressed (default: %(default)s)",
    )
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3", help="(default: %(default)s)")
    parser.add_argument(
        "--metadata-version",
        type=int,
        default=5,
        choices=(5, 8),
        help="5: plays on Humble and Jazzy; 8: rosbags' own (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from derain_seg_ros.bags.from_folder import write_folder_bag
    from derain_seg_ros.destinations import check_new_dir

    check_new_dir(args.output)

    summary = write_folder_bag(
        args.input,
        args.output,
        layout=args.layout,
        camera=args.camera,
        rate_hz=args.rate,
        start_ns=None if args.start is None else round(args.start * 1e9),
        transport=args.transport,
        storage=args.storage,
        metadata_version=args.metadata_version,
    )
    frames = ", ".join(f"/{cam}: {n}" for cam, n in summary.frames.items())
    print(f"{frames} frames, stamped from {summary.stamps_from}, {len(summary.skipped)} skipped -> {args.output}")
    return 0


def interrupted_note(args: argparse.Namespace) -> str:
    return f"no bag written: {args.output} is only created complete"
