"""bms_node on a simulated pack (fake AFE), e.g. beside a Gazebo robot.

    ros2 launch bms_ros sim.launch.py namespace:=robot1 use_sim_time:=true
    ros2 launch bms_ros sim.launch.py load_source:=cmd_vel cmd_vel_topic:=/diff_drive/cmd_vel \
        charger_topic:=/dock/contact use_sim_time:=true
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
    arg = LaunchConfiguration
    return LaunchDescription(
        [
            DeclareLaunchArgument("namespace", default_value="", description="Namespace of this pack's node"),
            DeclareLaunchArgument(
                "config", default_value=os.path.join(share, "config", "sim.yaml"), description="bms_node parameter file"
            ),
            DeclareLaunchArgument(
                "use_sim_time", default_value="false", description="Follow /clock (Gazebo, ros2 bag play --clock)"
            ),
            DeclareLaunchArgument(
                "load_source", default_value="constant", description="constant | current | cmd_vel | joint_states"
            ),
            DeclareLaunchArgument("cmd_vel_topic", default_value="cmd_vel", description="Robot velocity commands"),
            DeclareLaunchArgument("joint_states_topic", default_value="joint_states", description="Robot joint states"),
            DeclareLaunchArgument(
                "load_current_topic",
                default_value="load_current",
                description="Measured load current (std_msgs/Float64, A)",
            ),
            DeclareLaunchArgument(
                "charger_topic", default_value="charger_present", description="Charger contact (std_msgs/Bool)"
            ),
            Node(
                package="bms_ros",
                executable="bms_node",
                name="bms_node",
                namespace=arg("namespace"),
                parameters=[
                    arg("config"),
                    {
                        "use_sim_time": ParameterValue(arg("use_sim_time"), value_type=bool),
                        "sim.load_source": ParameterValue(arg("load_source"), value_type=str),
                    },
                ],
                remappings=[
                    ("cmd_vel", arg("cmd_vel_topic")),
                    ("joint_states", arg("joint_states_topic")),
                    ("load_current", arg("load_current_topic")),
                    ("charger_present", arg("charger_topic")),
                ],
                output="screen",  # no emulate_tty: colour codes would end up in redirected logs
            ),
        ]
    )
