"""Launch arguments -> node parameter overrides, remappings and the rviz configuration, ROS-free so the
rules are tested without ``launch`` (ros2 launch runs the launch file in ROS's own Python: no torch here).

An argument left empty overrides nothing: the params file's ``cameras:`` (and ``use_sim_time``)
stand unless the user gives the argument on the command line.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from derain_seg_ros.ros.outputs import COLOR, COMPRESSED, DERAINED, INPUT_TOPIC, input_topic, output_topic
from derain_seg_ros.ros.params import CAMERA_NAME, ParameterError, camera_problems

NODE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
NAMESPACE = re.compile(r"^/?([A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*)?$")


def parse_cameras(text: str) -> list[str]:
    """``"['front', 'rear']"``, ``"[front, rear]"``, ``"front,rear"`` or ``"front"`` -> a list of names."""
    value = (
        yaml.safe_load(text)
        if text.strip().startswith("[")
        else [part.strip() for part in text.split(",") if part.strip()]
    )
    if problems := camera_problems(value):
        raise ParameterError(f"launch argument cameras:={text!r}: " + "; ".join(problems))
    return value


def parse_bool(name: str, text: str) -> bool:
    value = yaml.safe_load(text)
    if not isinstance(value, bool):
        raise ParameterError(f"launch argument {name}:={text!r} must be true or false")
    return value


def node_overrides(cameras: str = "", use_sim_time: str = "") -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if cameras.strip():
        overrides["cameras"] = parse_cameras(cameras)
    if use_sim_time.strip():
        overrides["use_sim_time"] = parse_bool("use_sim_time", use_sim_time)
    return overrides


def node_identity(namespace: str = "", node_name: str = "derain_seg_node") -> tuple[str, str]:
    """(namespace, name) checked: two instances on one car differ in one of them."""
    if not NAMESPACE.match(namespace.strip()):
        raise ParameterError(f"launch argument namespace:={namespace!r} is not a ROS namespace")
    if not NODE_NAME.match(node_name.strip()):
        raise ParameterError(f"launch argument node_name:={node_name!r} is not a ROS node name")
    return namespace.strip().strip("/"), node_name.strip()


def input_remappings(inputs: str) -> list[tuple[str, str]]:
    """``"{front: /sensing/front/image}"`` -> each camera's input (raw, and image_transport's /compressed
    beside it) read from that topic instead of ``<cam>/image_raw``."""
    if not inputs.strip():
        return []
    mapping = yaml.safe_load(inputs)
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ParameterError(
            f"launch argument inputs:={inputs!r} must map camera names to topics, e.g. "
            '"{front: /sensing/front/image}"'
        )
    remaps = []
    for camera, topic in mapping.items():
        if not CAMERA_NAME.match(camera):
            raise ParameterError(f"launch argument inputs: camera {camera!r} is not a valid namespace")
        remaps += [(input_topic(camera), topic), (input_topic(camera, COMPRESSED), f"{topic}/{COMPRESSED}")]
    return remaps


def _display(name: str, topic: str, reliable: bool) -> dict[str, Any]:
    return {
        "Class": "rviz_default_plugins/Image",
        "Enabled": True,
        "Name": name,
        "Normalize Range": True,
        "Topic": {
            "Depth": 1 if reliable else 5,
            "Durability Policy": "Volatile",
            "History Policy": "Keep Last",
            "Reliability Policy": "Reliable" if reliable else "Best Effort",
            "Value": topic,
        },
        "Value": True,
    }


def rviz_config(cameras: list[str], namespace: str = "", fixed_frame: str = "base_link") -> dict[str, Any]:
    """Per camera: its raw input, the derained image and the overlay, under the node's namespace.

    Image displays need no TF, so nothing is published for rviz: its fixed frame is one of the car's
    own (``fixed_frame``), never a second, unconnected TF root."""
    prefix = f"/{namespace}" if namespace else ""
    displays = []
    for cam in cameras:
        displays += [
            _display(f"{cam} rainy", f"{prefix}/{input_topic(cam, 'raw', INPUT_TOPIC)}", reliable=False),
            _display(f"{cam} derained", f"{prefix}/{output_topic(cam, DERAINED)}", reliable=True),
            _display(f"{cam} segmentation", f"{prefix}/{output_topic(cam, COLOR)}", reliable=True),
        ]
    return {
        "Panels": [{"Class": "rviz_common/Displays", "Name": "Displays"}],
        "Visualization Manager": {
            "Class": "",
            "Displays": displays,
            "Enabled": True,
            "Global Options": {"Background Color": "48; 48; 48", "Fixed Frame": fixed_frame, "Frame Rate": 30},
            "Name": "root",
            "Tools": [{"Class": "rviz_default_plugins/Interact"}],
            "Value": True,
            "Views": {"Current": {"Class": "rviz_default_plugins/Orbit", "Name": "Current View"}, "Saved": None},
        },
        "Window Geometry": {"Height": 900, "Width": 1800, **{d["Name"]: {"collapsed": False} for d in displays}},
    }


def rviz_yaml(cameras: list[str], namespace: str = "", fixed_frame: str = "base_link") -> str:
    header = (
        "# Generated by derain_seg_ros.ros.launch_args.rviz_config for the default cameras; the launch file makes\n"
        "# its own from the camera list. Image displays need no TF: no frame is published for rviz.\n"
    )
    return header + yaml.safe_dump(rviz_config(cameras, namespace, fixed_frame), sort_keys=False)
