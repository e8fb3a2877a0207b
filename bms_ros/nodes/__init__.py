"""rclpy nodes: ROS transport around the core. No safety decision is made here."""

from bms_ros.blas_threads import pin_blas_threads

pin_blas_threads()  # before numpy loads: one BLAS thread (see bms_ros.blas_threads)
