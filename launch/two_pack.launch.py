"""Two simulated packs on one robot: one namespaced bms_node per pack (/pack_left, /pack_right) and
bms_aggregator, which publishes the robot's battery on /battery_state (what Nav2, docking and Open-RMF read)
and the aggregate with energy use and the low-battery state on /bms_aggregator/status.

Each pack keeps its own battery_state, ~/status and services under its namespace.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description():
    share = get_package_share_directory("bms_ros")
    config = os.path.join(share, "config", "two_pack.yaml")
    use_sim_time = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)
    nodes = [
        Node(
            package="bms_ros",
            executable="bms_node",
            name="bms_node",
            namespace=pack,
            parameters=[config, {"use_sim_time": use_sim_time}],
            output="screen",
        )
        for pack in ("pack_left", "pack_right")
    ]
    aggregator = Node(
        package="bms_ros",
        executable="bms_aggregator",
        name="bms_aggregator",
        parameters=[config, {"use_sim_time": use_sim_time}],
        output="screen",
    )
    return LaunchDescription(
        [DeclareLaunchArgument("use_sim_time", default_value="false", description="Follow /clock"), *nodes, aggregator]
    )
