"""rclpy nodes: ROS transport around the core. No safety decision is made here."""
