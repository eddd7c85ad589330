"""ros2 launch derain_seg_ros pipeline.launch.py [params_file:=...] [cameras:="['front','rear']"]
[use_sim_time:=true] [log_level:=info] [rviz:=true]"""

from pathlib import Path
from typing import List

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description() -> LaunchDescription:
    share = Path(get_package_share_directory("derain_seg_ros"))
    params_file = LaunchConfiguration("params_file")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=str(share / "config" / "pipeline.yaml")),
        DeclareLaunchArgument("cameras", default_value="['front', 'rear']", description="camera namespaces"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="true when replaying a bag with --clock"),
        DeclareLaunchArgument("log_level", default_value="info"),
        DeclareLaunchArgument("rviz", default_value="false"),
        Node(
            package="derain_seg_ros",
            executable="derain_seg_node",
            name="derain_seg_node",
            output="screen",
            parameters=[params_file, {
                "cameras": ParameterValue(LaunchConfiguration("cameras"), value_type=List[str]),
                "use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool),
            }],
            arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        ),
        Node(package="rviz2", executable="rviz2", arguments=["-d", str(share / "config" / "pipeline.rviz")],
             condition=IfCondition(LaunchConfiguration("rviz"))),
    ])
