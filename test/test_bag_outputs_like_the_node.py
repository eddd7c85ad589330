"""The bag tool names its outputs by the node's rule (``outputs.camera_of``/``output_topic``) and, like the
node, writes ``<cam>/derained/camera_info``: the camera's last camera_info, restamped per output frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from derain_seg_ros.bags.replay import process_bag
from derain_seg_ros.nets.config import PipelineConfig
from derain_seg_ros.ros.image_msg import image_fields
from derain_seg_ros.ros.outputs import CAMERA_INFO_OUT, OUTPUT_TOPICS, camera_of, input_topic, output_topic
from derain_seg_ros.runtime.engine_spec import EngineSpec
from derain_seg_ros.runtime.factory import make_engine

TS = get_typestore(Stores.ROS2_HUMBLE)
T = TS.types
H, W, N = 16, 24, 3
K = np.array([20.0, 0, 12, 0, 20, 8, 0, 0, 1])


def header(stamp_ns: int, frame_id: str):
    return T["std_msgs/msg/Header"](
        stamp=T["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id=frame_id
    )


def camera_info(stamp_ns: int):
    return T["sensor_msgs/msg/CameraInfo"](
        header=header(stamp_ns, "front_optical"),
        height=H,
        width=W,
        distortion_model="plumb_bob",
        d=np.zeros(5),
        k=K,
        r=np.eye(3).ravel(),
        p=np.zeros(12),
        binning_x=0,
        binning_y=0,
        roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
    )


@pytest.fixture
def bag(tmp_path: Path) -> Path:
    path = tmp_path / "in"
    rng = np.random.default_rng(0)
    with Writer(path, version=8, storage_plugin=StoragePlugin.SQLITE3) as writer:
        info = writer.add_connection("/front/camera_info", "sensor_msgs/msg/CameraInfo", typestore=TS)
        front = writer.add_connection("/front/image_raw", "sensor_msgs/msg/Image", typestore=TS)
        odd = writer.add_connection("/cam/image", "sensor_msgs/msg/Image", typestore=TS)  # not <cam>/image_raw
        t0 = 1_700_000_000 * 10**9
        writer.write(info, t0, TS.serialize_cdr(camera_info(t0), "sensor_msgs/msg/CameraInfo"))
        for i in range(N):
            stamp = t0 + (i + 1) * 100_000_000
            for conn, frame_id in ((front, "front_optical"), (odd, "cam_optical")):
                fields = image_fields(rng.integers(0, 256, (H, W, 3), np.uint8), "rgb8")
                msg = T["sensor_msgs/msg/Image"](header=header(stamp, frame_id), **fields)
                writer.write(conn, stamp, TS.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    return path


def test_outputs_follow_the_nodes_naming_rule_and_camera_info_is_restamped_per_frame(bag: Path, tmp_path: Path) -> None:
    engine = make_engine(EngineSpec("torch", config=PipelineConfig.small()))
    summary = process_bag(bag, tmp_path / "out", engine, progress=False)
    assert summary.frames == 2 * N
    with Reader(tmp_path / "out") as reader:
        topics = {c.topic for c in reader.connections}
        by_topic: dict[str, list] = {}
        for conn, _, raw in reader.messages():
            by_topic.setdefault(conn.topic, []).append(TS.deserialize_cdr(raw, conn.msgtype))
    for camera, source in (("/front", input_topic("/front")), ("/cam/image", "/cam/image")):
        assert camera_of(source) == camera
        assert {output_topic(camera, t) for t in OUTPUT_TOPICS} <= topics
    infos = by_topic[output_topic("/front", CAMERA_INFO_OUT)]
    image_stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in by_topic["/front/derained/image"]]
    assert [(m.header.stamp.sec, m.header.stamp.nanosec) for m in infos] == image_stamps and len(infos) == N
    assert all(np.array_equal(m.k, K) and m.header.frame_id == "front_optical" for m in infos)
    assert output_topic("/cam/image", CAMERA_INFO_OUT) not in topics  # no camera_info in, none out
