"""ros2 launch derain_seg_ros pipeline.launch.py [params_file:=...] [cameras:="['front','rear']"]
[use_sim_time:=true] [log_level:=info] [rviz:=true]

``cameras`` and ``use_sim_time`` override the params file only when given: left out, the file's
``cameras:`` stands. ``rviz:=true`` needs rviz2 installed (not a dependency: a vehicle PC is
headless); it also publishes a static frame for rviz's fixed frame, since image displays need no TF.
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from derain_seg_ros.ros.launch_args import node_overrides

VIEW_FRAME = "derain_seg_view"  # the rviz config's fixed frame; nothing else uses it


def _node(context):
    overrides = node_overrides(LaunchConfiguration("cameras").perform(context),
                               LaunchConfiguration("use_sim_time").perform(context))
    return [Node(
        package="derain_seg_ros",
        executable="derain_seg_node",
        name="derain_seg_node",
        output="screen",
        parameters=[LaunchConfiguration("params_file").perform(context), *([overrides] if overrides else [])],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level").perform(context)],
    )]


def generate_launch_description() -> LaunchDescription:
    share = Path(get_package_share_directory("derain_seg_ros"))
    rviz = IfCondition(LaunchConfiguration("rviz"))
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=str(share / "config" / "pipeline.yaml")),
        DeclareLaunchArgument("cameras", default_value="", description="camera namespaces, e.g. \"['front', 'rear']\"; "
                                                                       "empty: the params file's cameras"),
        DeclareLaunchArgument("use_sim_time", default_value="", description="true when replaying a bag with --clock; "
                                                                            "empty: the params file's"),
        DeclareLaunchArgument("log_level", default_value="info"),
        DeclareLaunchArgument("rviz", default_value="false"),
        OpaqueFunction(function=_node),
        Node(package="tf2_ros", executable="static_transform_publisher", condition=rviz,
             arguments=["--frame-id", VIEW_FRAME, "--child-frame-id", f"{VIEW_FRAME}/images"]),
        Node(package="rviz2", executable="rviz2", arguments=["-d", str(share / "config" / "pipeline.rviz")], condition=rviz),
    ])
