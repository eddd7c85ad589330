"""The launch file's arguments, without ROS: left out, they leave the params file alone."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import yaml

from derain_seg_ros.ros.launch_args import input_remappings, node_identity, node_overrides, parse_cameras, rviz_config
from derain_seg_ros.ros.params import ParameterError


def test_arguments_left_empty_override_nothing_so_the_params_file_cameras_stand() -> None:
    assert node_overrides("", "") == {}


@pytest.mark.parametrize("text", ["['front', 'rear']", "[front, rear]", "front,rear", " front , rear "])
def test_cameras_given_on_the_command_line_override_the_file(text: str) -> None:
    assert node_overrides(text) == {"cameras": ["front", "rear"]}


def test_use_sim_time_is_a_bool_and_a_bad_value_is_named() -> None:
    assert node_overrides(use_sim_time="true") == {"use_sim_time": True}
    with pytest.raises(ParameterError, match="use_sim_time:='yes please' must be true or false"):
        node_overrides(use_sim_time="yes please")
    with pytest.raises(ParameterError, match="not a valid namespace"):
        parse_cameras("['front', '2nd']")


def test_the_launch_helpers_do_not_import_torch() -> None:
    """ros2 launch runs the launch file in ROS's own Python, which need not have torch."""
    import subprocess

    code = "import sys, derain_seg_ros.ros.launch_args; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_namespace_and_node_name_are_checked() -> None:
    assert node_identity("/car1", "left_derain") == ("car1", "left_derain")
    assert node_identity("", "derain_seg_node") == ("", "derain_seg_node")
    with pytest.raises(ParameterError, match="node_name"):
        node_identity("", "left-derain")
    with pytest.raises(ParameterError, match="namespace"):
        node_identity("car 1", "n")


def test_per_camera_inputs_remap_the_raw_topic_and_its_compressed_sibling() -> None:
    assert input_remappings("") == []
    assert input_remappings("{front: /sensing/front/image, rear: /cam_r/image_color}") == [
        ("front/image_raw", "/sensing/front/image"),
        ("front/image_raw/compressed", "/sensing/front/image/compressed"),
        ("rear/image_raw", "/cam_r/image_color"),
        ("rear/image_raw/compressed", "/cam_r/image_color/compressed"),
    ]
    with pytest.raises(ParameterError, match="must map camera names to topics"):
        input_remappings("[front]")


def test_rviz_is_made_from_the_camera_list_under_the_namespace_in_a_frame_of_the_car() -> None:
    config = rviz_config(["left", "right"], namespace="car1", fixed_frame="base_link")["Visualization Manager"]
    topics = [d["Topic"]["Value"] for d in config["Displays"]]
    assert topics == [
        "/car1/left/image_raw",
        "/car1/left/derained/image",
        "/car1/left/segmentation/color",
        "/car1/right/image_raw",
        "/car1/right/derained/image",
        "/car1/right/segmentation/color",
    ]
    assert config["Global Options"]["Fixed Frame"] == "base_link"
    yaml.safe_dump(config)  # plain data rviz reads


def test_the_launch_file_declares_the_arguments_a_car_needs() -> None:
    """launch_ros is not on PyPI, so the file is read, not run, here (test_launch_pipeline.py runs it under colcon)."""
    tree = ast.parse((Path(__file__).resolve().parent.parent / "launch" / "pipeline.launch.py").read_text())
    declared = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DeclareLaunchArgument"
    }
    assert {
        "namespace",
        "node_name",
        "inputs",
        "respawn",
        "respawn_delay",
        "lifecycle",
        "cameras",
        "params_file",
        "use_sim_time",
        "rviz",
        "fixed_frame",
    } <= declared
