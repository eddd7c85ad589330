"""A synthetic rainy drive as a rosbag2: two cameras, raw bgr8 and compressed jpeg, the rain
getting heavier over time. For `make demo` and the bag tool's end-to-end tests."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from derain_seg_ros.bags.replay import downgrade_metadata, staged_bag
from derain_seg_ros.data.synthcity import generate_scene
from derain_seg_ros.rain.renderers import make_renderer
from derain_seg_ros.ros.image_msg import image_fields, rgb_to_compressed_data

CAMERAS = (
    ("/front/image_raw", "sensor_msgs/msg/Image", "front_camera"),
    ("/rear/image_raw/compressed", "sensor_msgs/msg/CompressedImage", "rear_camera"),
)


def make_demo_bag(
    path: str | os.PathLike,
    frames: int = 8,
    rate_hz: float = 4.0,
    size: tuple[int, int] = (128, 256),
    seed: int = 0,
    storage: str = "sqlite3",
    start_ns: int = 1_700_000_000_000_000_000,
    metadata_version: int = 5,
) -> Path:
    """Written as rosbag2 metadata format 5 by default, like the bag tool's output: Humble plays it too.
    Written atomically (a staging folder renamed into place): ``path`` must not exist."""
    path = Path(path)
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    T = typestore.types
    renderer = make_renderer("car")
    scenes = [generate_scene(seed + k, *size).image for k in range(len(CAMERAS))]
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with staged_bag(path) as tmp:
        with Writer(tmp, version=8, storage_plugin=plugin) as writer:
            conns = [writer.add_connection(topic, msgtype, typestore=typestore) for topic, msgtype, _ in CAMERAS]
            for i in range(frames):
                stamp_ns = start_ns + int(i * 1e9 / rate_hz)
                step = min(renderer.num_steps - 1, i * renderer.num_steps // frames)
                for (_topic, msgtype, frame_id), conn, clean in zip(CAMERAS, conns, scenes, strict=True):
                    rgb = renderer.render(clean, seed, step, layers=False).rainy
                    header = T["std_msgs/msg/Header"](
                        stamp=T["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                        frame_id=frame_id,
                    )
                    if msgtype.endswith("CompressedImage"):
                        msg = T[msgtype](header=header, format="jpeg", data=rgb_to_compressed_data(rgb, "jpeg"))
                    else:
                        msg = T[msgtype](header=header, **image_fields(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), "bgr8"))
                    writer.write(conn, stamp_ns, typestore.serialize_cdr(msg, msgtype))
        if metadata_version < 8:
            downgrade_metadata(tmp, metadata_version)
    return path
