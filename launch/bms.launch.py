"""bms_node on real hardware (bq769x0 on I2C).

    ros2 launch bms_ros bms.launch.py config:=/path/to/robot_pack.yaml namespace:=battery
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
    return LaunchDescription([
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of this pack's node"),
        DeclareLaunchArgument("config", default_value=os.path.join(share, "config", "bq769x0.yaml"),
                              description="bms_node parameter file"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="Follow /clock"),
        Node(
            package="bms_ros",
            executable="bms_node",
            name="bms_node",
            namespace=LaunchConfiguration("namespace"),
            parameters=[LaunchConfiguration("config"),
                        {"use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)}],
            output="screen",
            respawn=True,
            respawn_delay=2.0,
        ),
    ])
