"""Launch arguments -> node parameter overrides, ROS-free so the rule is tested without ``launch``.

An argument left empty overrides nothing: the params file's ``cameras:`` (and ``use_sim_time``)
stand unless the user gives the argument on the command line.
"""

from __future__ import annotations

from typing import Any

import yaml

from derain_seg_ros.ros.params import ParameterError, camera_problems


def parse_cameras(text: str) -> list[str]:
    """``"['front', 'rear']"``, ``"[front, rear]"``, ``"front,rear"`` or ``"front"`` -> a list of names."""
    value = yaml.safe_load(text) if text.strip().startswith("[") else [part.strip() for part in text.split(",") if part.strip()]
    if problems := camera_problems(value):
        raise ParameterError(f"launch argument cameras:={text!r}: " + "; ".join(problems))
    return value


def node_overrides(cameras: str = "", use_sim_time: str = "") -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if cameras.strip():
        overrides["cameras"] = parse_cameras(cameras)
    if use_sim_time.strip():
        value = yaml.safe_load(use_sim_time)
        if not isinstance(value, bool):
            raise ParameterError(f"launch argument use_sim_time:={use_sim_time!r} must be true or false")
        overrides["use_sim_time"] = value
    return overrides
