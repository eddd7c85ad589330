"""The launch file's arguments, without ROS: left out, they leave the params file alone."""

from __future__ import annotations

import sys

import pytest

from derain_seg_ros.ros.launch_args import node_overrides, parse_cameras
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
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
