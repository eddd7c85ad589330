"""ros2 launch derain_seg_ros pipeline.launch.py [params_file:=...] [cameras:="['front','rear']"]
[namespace:=car1] [node_name:=derain_seg_node] [inputs:="{front: /sensing/front/image}"]
[respawn:=true] [respawn_delay:=2.0] [lifecycle:=false] [use_sim_time:=true] [log_level:=info]
[rviz:=true] [fixed_frame:=base_link]

``cameras`` and ``use_sim_time`` override the params file only when given: left out, the file's
``cameras:`` stands. ``inputs`` reads a camera's frames from another topic (image_transport's
``/compressed`` beside it follows). ``respawn`` restarts the node when it exits other than by launch's own
shutdown (a crash exits 1 with one line). ``lifecycle:=true`` starts the managed node (unconfigured; a supervisor drives it).
``rviz:=true`` needs rviz2 installed (not a dependency: a vehicle PC is headless); its configuration
is made from the camera list under the namespace, with ``fixed_frame`` as rviz's fixed frame. No TF
is published for rviz (image displays need none): a car's TF tree gets no second root.
"""

import tempfile

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from derain_seg_ros.ros.launch_args import (
    input_remappings,
    node_identity,
    node_overrides,
    parse_bool,
    parse_cameras,
    rviz_yaml,
)
from launch import LaunchDescription


def _arg(context, name: str) -> str:
    return LaunchConfiguration(name).perform(context)


def _cameras(context, overrides: dict) -> list:
    """The camera list: the argument, else the params file's (for rviz only)."""
    if "cameras" in overrides:
        return overrides["cameras"]
    import yaml

    with open(_arg(context, "params_file")) as f:
        params = yaml.safe_load(f) or {}
    for section in params.values():
        cameras = (section or {}).get("ros__parameters", {}).get("cameras")
        if cameras:
            return parse_cameras(str(cameras))
    return ["camera"]


def _nodes(context):
    overrides = node_overrides(_arg(context, "cameras"), _arg(context, "use_sim_time"))
    namespace, name = node_identity(_arg(context, "namespace"), _arg(context, "node_name"))
    lifecycle = parse_bool("lifecycle", _arg(context, "lifecycle"))
    actions = [
        Node(
            package="derain_seg_ros",
            executable="derain_seg_node",
            name=name,
            namespace=namespace,
            output="screen",
            respawn=parse_bool("respawn", _arg(context, "respawn")),
            respawn_delay=float(_arg(context, "respawn_delay")),
            parameters=[_arg(context, "params_file"), *([overrides] if overrides else [])],
            remappings=input_remappings(_arg(context, "inputs")),
            arguments=[
                *(["--lifecycle"] if lifecycle else []),
                "--ros-args",
                "--log-level",
                _arg(context, "log_level"),
            ],
        )
    ]
    if parse_bool("rviz", _arg(context, "rviz")):
        config = tempfile.NamedTemporaryFile("w", prefix="derain_seg_", suffix=".rviz", delete=False)
        with config:
            config.write(rviz_yaml(_cameras(context, overrides), namespace, _arg(context, "fixed_frame")))
        actions.append(Node(package="rviz2", executable="rviz2", arguments=["-d", config.name]))
    return actions


def generate_launch_description() -> LaunchDescription:
    from pathlib import Path

    from ament_index_python.packages import get_package_share_directory

    share = Path(get_package_share_directory("derain_seg_ros"))
    return LaunchDescription(
        [
            DeclareLaunchArgument("params_file", default_value=str(share / "config" / "pipeline.yaml")),
            DeclareLaunchArgument(
                "cameras",
                default_value="",
                description="camera namespaces, e.g. \"['front', 'rear']\"; empty: the params file's cameras",
            ),
            DeclareLaunchArgument("namespace", default_value="", description="the node's namespace, e.g. car1"),
            DeclareLaunchArgument("node_name", default_value="derain_seg_node"),
            DeclareLaunchArgument(
                "inputs", default_value="", description='per-camera input topic, e.g. "{front: /sensing/front/image}"'
            ),
            DeclareLaunchArgument(
                "respawn", default_value="false", description="restart the node when it exits (a crash exits 1)"
            ),
            DeclareLaunchArgument("respawn_delay", default_value="2.0"),
            DeclareLaunchArgument("lifecycle", default_value="false", description="start the managed (lifecycle) node"),
            DeclareLaunchArgument(
                "use_sim_time",
                default_value="",
                description="true when replaying a bag with --clock; empty: the params file's",
            ),
            DeclareLaunchArgument("log_level", default_value="info"),
            DeclareLaunchArgument("rviz", default_value="false"),
            DeclareLaunchArgument(
                "fixed_frame", default_value="base_link", description="rviz's fixed frame (a frame of the car)"
            ),
            OpaqueFunction(function=_nodes),
        ]
    )
