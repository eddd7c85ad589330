"""launch_testing: start pipeline.launch.py, publish frames, receive all three outputs; after the
launch shuts the node down (SIGINT), it must have exited with code 0.

Runs under a ROS 2 installation with the package built (``colcon test``, or ``launch_test`` on this
file); skipped where launch_testing is missing (it is not on PyPI, so not in `make test`).
"""

from __future__ import annotations

import array
import tempfile
import threading
import time
import unittest
from pathlib import Path

import numpy as np
import pytest

launch_testing = pytest.importorskip(
    "launch_testing", reason="launch_testing is not installed (ROS 2 only, not on PyPI)"
)
rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed")

import launch.actions  # noqa: E402
import launch.launch_description_sources  # noqa: E402
import launch_testing.actions  # noqa: E402, F811 - the submodule, beside the importorskip name
import launch_testing.asserts  # noqa: E402
import yaml  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

import launch  # noqa: E402
from derain_seg_ros.ros.image_msg import image_fields  # noqa: E402
from derain_seg_ros.ros.outputs import OUTPUT_TOPICS  # noqa: E402


def _params_file() -> str:
    """A small random pipeline (the test's own checkpoint) and one camera."""
    from derain_seg_ros.nets.config import PipelineConfig
    from derain_seg_ros.nets.pipeline import DerainSegPipeline
    from derain_seg_ros.runtime.checkpoint import save_checkpoint

    folder = Path(tempfile.mkdtemp(prefix="derain_seg_launch_test."))
    checkpoint = save_checkpoint(folder / "small.pt", DerainSegPipeline.from_config(PipelineConfig.small()))
    params = {"cameras": ["front", "rear"], "checkpoint": str(checkpoint), "backend": "torch", "precision": "fp32"}
    (folder / "params.yaml").write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
    return str(folder / "params.yaml")


@pytest.mark.launch_test
def generate_test_description():
    launch_file = Path(get_package_share_directory("derain_seg_ros")) / "launch" / "pipeline.launch.py"
    pipeline = launch.actions.IncludeLaunchDescription(
        launch.launch_description_sources.PythonLaunchDescriptionSource(str(launch_file)),
        launch_arguments={"params_file": _params_file(), "cameras": "['cam']"}.items(),
    )  # the argument beats the file
    return launch.LaunchDescription([pipeline, launch_testing.actions.ReadyToTest()])


class TestOneFrameThrough(unittest.TestCase):
    def test_frames_in_three_outputs_out_with_their_frame_id(self) -> None:
        rclpy.init()
        node = rclpy.create_node("derain_seg_launch_test")
        received: dict[str, Image] = {}
        got_all = threading.Event()

        def keep(topic: str, msg: Image) -> None:
            received.setdefault(topic, msg)
            if len(received) == len(OUTPUT_TOPICS):
                got_all.set()

        for topic in OUTPUT_TOPICS:
            node.create_subscription(Image, f"/cam/{topic}", lambda msg, t=topic: keep(t, msg), 10)
        publisher = node.create_publisher(Image, "/cam/image_raw", qos_profile_sensor_data)
        fields = image_fields(np.full((32, 48, 3), 120, np.uint8), "rgb8")
        fields["data"] = array.array("B", fields["data"].tobytes())
        frame = Image(**fields)
        frame.header.frame_id = "cam_optical"
        node.create_timer(0.1, lambda: publisher.publish(frame))  # a camera at 10 Hz
        deadline = time.monotonic() + 120.0  # the first frame waits for the engine to load
        try:
            while not got_all.is_set() and time.monotonic() < deadline:
                rclpy.spin_once(node, timeout_sec=0.5)  # returns as soon as a message or the timer is due
        finally:
            node.destroy_node()
            rclpy.shutdown()
        self.assertTrue(got_all.is_set(), f"only {sorted(received)} arrived within 120 s")
        self.assertEqual({m.header.frame_id for m in received.values()}, {"cam_optical"})
        self.assertEqual(received["segmentation/label"].encoding, "mono8")


@launch_testing.post_shutdown_test()
class TestCleanShutdown(unittest.TestCase):
    def test_the_node_exits_with_code_0(self, proc_info) -> None:
        launch_testing.asserts.assertExitCodes(proc_info)
