"""The shipped parameter file, package manifest and rviz config agree with the code."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from derain_seg_ros.ros.params import SPEC, validate
from train.config import flatten_dict

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_params_file_is_valid_and_names_only_known_parameters() -> None:
    values = flatten_dict(yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text())["/**"]["ros__parameters"])
    params = validate(values)
    assert params.transports == {"front": "raw", "rear": "compressed"}  # the demo bag's two cameras
    assert set(values) - set(SPEC) == {"rear.transport"}


def test_the_manifest_keeps_rviz_optional_and_names_the_pip_keys() -> None:
    depends = {e.text for e in ET.parse(ROOT / "package.xml").getroot().iter("exec_depend")}
    assert "rviz2" not in depends
    assert {
        "ament_index_python",
        "python3-rosbags-pip",
        "python3-onnxruntime-pip",
        "rclpy",
        "diagnostic_msgs",
    } <= depends


def test_rviz_config_is_the_one_made_from_the_camera_list_and_the_launch_file_adds_no_tf_root() -> None:
    from derain_seg_ros.ros.launch_args import rviz_yaml

    text = (ROOT / "config" / "pipeline.rviz").read_text()
    assert text == rviz_yaml(["front", "rear"]), "config/pipeline.rviz differs from rviz_config: regenerate it"
    rviz = yaml.safe_load(text)["Visualization Manager"]
    topics = {d["Topic"]["Value"] for d in rviz["Displays"]}
    assert {
        "/front/derained/image",
        "/rear/derained/image",
        "/front/segmentation/color",
        "/rear/segmentation/color",
    } <= topics
    launch = (ROOT / "launch" / "pipeline.launch.py").read_text()
    assert "static_transform_publisher" not in launch and "rviz_yaml(" in launch


def test_the_shipped_params_file_names_every_parameter_of_the_spec() -> None:
    values = flatten_dict(yaml.safe_load((ROOT / "config" / "pipeline.yaml").read_text())["/**"]["ros__parameters"])
    assert set(SPEC) <= set(values), f"config/pipeline.yaml lacks {sorted(set(SPEC) - set(values))}"


def test_under_make_test_a_missing_rclpy_fails_the_ros_tests_instead_of_skipping(tmp_path) -> None:
    """CI must run the real-ROS tests: with DERAIN_SEG_REQUIRE_ROS set (make test), no rclpy is an error."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['rclpy'] = None; import pytest; "
        f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '--noconftest', '--collect-only', {str(ROOT / 'test' / 'test_ros_node_live.py')!r}]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "DERAIN_SEG_REQUIRE_ROS": "1"},
    )
    assert run.returncode != 0 and "DERAIN_SEG_REQUIRE_ROS is set but rclpy cannot be imported" in run.stdout
