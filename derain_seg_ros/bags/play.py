"""A bag's camera topics, published live through rclpy: the stand-in for ``ros2 bag play`` where rosbag2
is not installed (a pip-installed rclpy, CI), so a recording can be replayed into the running node.

Messages go out as they were recorded (the stored CDR bytes, so their header stamps and frame_ids are
the recorded ones) at the recorded pace divided by ``rate`` (2: twice as fast; 0: as fast as they can
be sent), optionally with ``/clock`` for nodes under ``use_sim_time``. Like the node, this module
imports rclpy; it is the only other one that does, because publishing is what it is for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from rclpy.duration import Duration
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from derain_seg_ros.bags.replay import BagError, open_reader

log = logging.getLogger(__name__)
CAMERA_TYPES = {
    "sensor_msgs/msg/Image": Image,
    "sensor_msgs/msg/CompressedImage": CompressedImage,
    "sensor_msgs/msg/CameraInfo": CameraInfo,
}
PLAY_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)  # reaches BEST_EFFORT and RELIABLE subscribers


@dataclass
class PlaySummary:
    published: dict[str, int] = field(default_factory=dict)  # topic -> messages sent
    seconds: float = 0.0
    unacked: list[str] = field(default_factory=list)  # topics a subscriber had not acknowledged when play ended


def play_bag(
    bag: str | Path,
    rate: float = 1.0,
    topics: Sequence[str] | None = None,
    clock: bool = False,
    wait_for_subscribers_s: float = 0.0,
    delay_s: float = 0.0,
    wait_for_acked_s: float = 10.0,
    context=None,
) -> PlaySummary:
    """Publish the bag's Image, CompressedImage and CameraInfo topics (or ``topics``) in recorded order.

    ``wait_for_subscribers_s``: first wait up to this long until every image topic has a subscriber,
    so that nothing is sent into the void while a node is still starting; ``delay_s``: then wait this
    long (as ``ros2 bag play --delay``): DDS matches a publisher and a subscription from both ends, and
    a volatile subscription drops what arrives before its own end has matched; ``wait_for_acked_s``: at
    the end, wait up to this long until every subscriber has acknowledged every message (as
    ``ros2 bag play --wait-for-all-acked``): destroying a reliable publisher ends its resends, so a
    last message lost once on a loaded machine would otherwise be lost for good."""
    if rate < 0:
        raise BagError(f"rate must be >= 0 (0: as fast as possible), got {rate}")
    reader = open_reader(Path(bag))
    owns_context = context is None
    if owns_context:
        context = rclpy.Context()
        rclpy.init(context=context)
    node = rclpy.create_node("derain_seg_play", context=context)
    summary = PlaySummary()
    try:
        conns = [c for c in reader.connections if c.msgtype in CAMERA_TYPES and (not topics or c.topic in topics)]
        if topics and (missing := set(topics) - {c.topic for c in conns}):
            raise BagError(
                f"no camera topic(s) {sorted(missing)} in {bag}; it has "
                f"{sorted(c.topic for c in reader.connections if c.msgtype in CAMERA_TYPES)}"
            )
        if not conns:
            raise BagError(f"{bag} holds no Image, CompressedImage or CameraInfo topic")
        pubs = {c.id: node.create_publisher(CAMERA_TYPES[c.msgtype], c.topic, PLAY_QOS) for c in conns}
        clock_pub = node.create_publisher(Clock, "/clock", 10) if clock else None
        images = [pubs[c.id] for c in conns if c.msgtype != "sensor_msgs/msg/CameraInfo"]
        deadline = time.monotonic() + wait_for_subscribers_s
        while images and time.monotonic() < deadline and not all(p.get_subscription_count() for p in images):
            time.sleep(0.02)
        time.sleep(delay_s)
        started, first = time.monotonic(), None
        for conn, timestamp, raw in reader.messages(connections=conns):
            first = timestamp if first is None else first
            if rate > 0:
                delay = started + (timestamp - first) / 1e9 / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if clock_pub is not None:
                now = Clock()
                now.clock.sec, now.clock.nanosec = divmod(timestamp, 10**9)
                clock_pub.publish(now)
            pubs[conn.id].publish(bytes(raw))  # the recorded CDR: stamps and frame_ids as recorded
            summary.published[conn.topic] = summary.published.get(conn.topic, 0) + 1
        summary.seconds = time.monotonic() - started
        if wait_for_acked_s > 0:
            acked_by = time.monotonic() + wait_for_acked_s
            for conn in conns:
                left = Duration(seconds=max(acked_by - time.monotonic(), 0.0))
                if not pubs[conn.id].wait_for_all_acked(left):
                    summary.unacked.append(conn.topic)
    finally:
        node.destroy_node()
        if owns_context:
            rclpy.try_shutdown(context=context)
        reader.close()
    log.info("published %s in %.1f s", ", ".join(f"{n} on {t}" for t, n in summary.published.items()), summary.seconds)
    if summary.unacked:
        log.warning(
            "not acknowledged by every subscriber within %.1f s: %s", wait_for_acked_s, ", ".join(summary.unacked)
        )
    return summary
