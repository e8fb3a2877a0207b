"""bms_node on real hardware (bq769x0 on I2C).

    ros2 launch bms_ros bms.launch.py config:=/path/to/robot_pack.yaml namespace:=battery

This launch never runs a simulated pack: a missing or unreadable config file stops it with the reason, and the
node is started with afe.require_hardware, so it refuses (exit 2) a parameter file whose afe.type is not
hardware. A configuration error is permanent, so the node is not respawned after it; after a crash or an AFE
that could not be started it is respawned with a back-off (2 s, doubling to 60 s; see bms_ros.launch_policy).
"""

import os
import time

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction, RegisterEventHandler, TimerAction
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from bms_ros.launch_policy import EXIT_BAD_CONFIGURATION, config_file_problem, respawn_decision


def supervised_bms_node(context, attempt=0):
    """The node, and what to do when it exits while launch itself keeps running."""
    config = LaunchConfiguration("config").perform(context)
    problem = config_file_problem(config)
    if problem:
        raise RuntimeError(f"bms.launch.py: {problem}; the hardware launch never falls back to a simulated pack")
    node = Node(
        package="bms_ros",
        executable="bms_node",
        name="bms_node",
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            config,
            {
                "afe.require_hardware": True,  # after the file: the file cannot turn it off
                "use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool),
            },
        ],
        output="screen",
    )
    started = time.monotonic()

    def on_exit(event, exit_context):
        if exit_context.is_shutdown:  # launch is stopping everything: an expected exit
            return None
        decision = respawn_decision(event.returncode, attempt, time.monotonic() - started)
        if event.returncode == EXIT_BAD_CONFIGURATION:
            raise RuntimeError(decision.message)  # launch stops with this reason and a non-zero exit
        if not decision.respawn:
            return [LogInfo(msg=decision.message)]
        return [
            LogInfo(msg=decision.message),
            TimerAction(
                period=decision.delay_s,
                actions=[OpaqueFunction(function=supervised_bms_node, kwargs={"attempt": decision.attempt})],
            ),
        ]

    return [node, RegisterEventHandler(OnProcessExit(target_action=node, on_exit=on_exit))]


def generate_launch_description():
    share = get_package_share_directory("bms_ros")
    return LaunchDescription(
        [
            DeclareLaunchArgument("namespace", default_value="", description="Namespace of this pack's node"),
            DeclareLaunchArgument(
                "config",
                default_value=os.path.join(share, "config", "bq769x0.yaml"),
                description="bms_node parameter file (afe.type: bq769x0)",
            ),
            DeclareLaunchArgument("use_sim_time", default_value="false", description="Follow /clock"),
            OpaqueFunction(function=supervised_bms_node),
        ]
    )
