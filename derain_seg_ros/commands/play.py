"""``derain-seg play BAG``: publish a bag's camera topics (Image, CompressedImage, CameraInfo) live through
rclpy, at the recorded pace and with the recorded stamps: ``ros2 bag play`` where rosbag2 is not
installed. Needs rclpy (the ``ros`` extra, or a sourced ROS 2)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "bag", type=Path, help="rosbag2 folder (sqlite3 or mcap), e.g. one written by `derain-seg tobag`"
    )
    parser.add_argument(
        "--rate", type=float, default=1.0, help="pace: 1 as recorded, 2 twice as fast, 0 as fast as possible"
    )
    parser.add_argument("--topics", nargs="*", help="topics to publish (default: every camera topic of the bag)")
    parser.add_argument("--clock", action="store_true", help="also publish /clock from the bag's time (use_sim_time)")
    parser.add_argument(
        "--wait-for-subscribers",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to this long until every image topic has a subscriber before playing",
    )
    parser.add_argument(
        "--delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="then wait this long before the first message (lets DDS finish matching)",
    )
    parser.add_argument(
        "--wait-for-acked",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="at the end, wait up to this long until every subscriber acknowledged every message (0: do not wait)",
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        from derain_seg_ros.bags.play import play_bag
    except ImportError as exc:
        raise SystemExit(
            f"error: derain-seg play needs rclpy ({exc}); pip install -e '.[ros]' or source ROS 2"
        ) from None
    summary = play_bag(
        args.bag,
        rate=args.rate,
        topics=args.topics,
        clock=args.clock,
        wait_for_subscribers_s=args.wait_for_subscribers,
        delay_s=args.delay,
        wait_for_acked_s=args.wait_for_acked,
    )
    print(", ".join(f"{topic}: {n}" for topic, n in summary.published.items()) + f" in {summary.seconds:.1f} s")
    return 0
