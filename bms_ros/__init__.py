"""bms_ros: battery management for ROS 2 robots.

Layers (imports only point left): ``core`` (decisions, estimation; no ROS) <- ``afe`` (hardware and
its simulation) <- ``nodes`` (ROS transport). ``bms_ros.msg`` is generated from ``msg/``.
"""
