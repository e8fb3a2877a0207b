"""bms_node on a simulated pack (fake AFE), e.g. beside a Gazebo robot.

    ros2 launch bms_ros sim.launch.py namespace:=robot1 use_sim_time:=true
    ros2 launch bms_ros sim.launch.py config:=/path/to/my_sim.yaml
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
    namespace = LaunchConfiguration("namespace")
    config = LaunchConfiguration("config")
    use_sim_time = LaunchConfiguration("use_sim_time")
    return LaunchDescription([
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of this pack's node"),
        DeclareLaunchArgument("config", default_value=os.path.join(share, "config", "sim.yaml"),
                              description="bms_node parameter file"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="Follow /clock (Gazebo, ros2 bag play --clock)"),
        Node(
            package="bms_ros",
            executable="bms_node",
            name="bms_node",
            namespace=namespace,
            parameters=[config, {"use_sim_time": ParameterValue(use_sim_time, value_type=bool)}],
            output="screen",
            emulate_tty=True,
        ),
    ])
