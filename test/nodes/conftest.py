import pytest

rclpy = pytest.importorskip("rclpy")


@pytest.fixture
def ros_node():
    """An rclpy node in the test process, for subscribing and calling services."""
    import uuid

    rclpy.init()
    node = rclpy.create_node(f"bms_test_{uuid.uuid4().hex[:8]}")
    yield node
    node.destroy_node()
    rclpy.try_shutdown()
