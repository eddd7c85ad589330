"""launch_testing: start pipeline.launch.py, publish one frame, receive all three outputs.

Needs a ROS 2 installation (rclpy, launch_testing, the built package); skipped where there is none.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed: ROS 2 is not available here")
launch_testing = pytest.importorskip("launch_testing", reason="launch_testing is not installed (ROS 2 only)")

import launch  # noqa: E402
import launch.actions  # noqa: E402
import launch.launch_description_sources  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from derain_seg_ros.ros.image_msg import image_fields  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parent.parent / "launch" / "pipeline.launch.py"


@pytest.mark.launch_test
def generate_test_description():
    pipeline = launch.actions.IncludeLaunchDescription(
        launch.launch_description_sources.PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
        launch_arguments={"cameras": "['cam']"}.items())
    return launch.LaunchDescription([pipeline, launch_testing.actions.ReadyToTest()])


def test_one_frame_in_three_outputs_out() -> None:
    import array

    rclpy.init()
    node = rclpy.create_node("derain_seg_launch_test")
    received: dict[str, Image] = {}
    for name in ("derained/image", "segmentation/label", "segmentation/color"):
        node.create_subscription(Image, f"/cam/{name}", lambda msg, n=name: received.setdefault(n, msg), 10)
    publisher = node.create_publisher(Image, "/cam/image_raw", 10)
    fields = image_fields(np.full((64, 96, 3), 120, np.uint8), "rgb8")
    fields["data"] = array.array("B", fields["data"].tobytes())
    frame = Image(**fields)
    frame.header.frame_id = "cam_optical"
    deadline = time.monotonic() + 60
    try:
        while len(received) < 3 and time.monotonic() < deadline:
            publisher.publish(frame)
            rclpy.spin_once(node, timeout_sec=0.5)
    finally:
        node.destroy_node()
        rclpy.shutdown()
    assert set(received) == {"derained/image", "segmentation/label", "segmentation/color"}
    assert all(msg.header.frame_id == "cam_optical" for msg in received.values())
    assert received["segmentation/label"].encoding == "mono8"
