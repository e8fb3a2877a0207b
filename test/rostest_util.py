"""Helpers for tests that talk to a bms_node in another process (like launch_testing would)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def write_params(params: dict, node_name: str = "/**") -> str:
    """A ROS 2 parameter file from a nested dict; returns its path."""
    fd, path = tempfile.mkstemp(suffix=".yaml", prefix="bms_test_")
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump({node_name: {"ros__parameters": params}}, f)
    return path


class NodeProcess:
    """bms_node as a child process; stopped with SIGINT like Ctrl-C / launch shutdown."""

    def __init__(
        self,
        params: dict | None = None,
        params_file: str | None = None,
        extra_args: list[str] = (),
        node_name: str | None = None,
        namespace: str | None = None,
        module: str = "bms_ros.nodes.bms_node",
        params_node: str = "/**",
    ):
        args = [sys.executable, "-m", module, "--ros-args"]
        if params is not None:
            args += ["--params-file", write_params(params, params_node)]
        if params_file is not None:
            args += ["--params-file", params_file]
        if node_name:
            args += ["-r", f"__node:={node_name}"]
        if namespace:
            args += ["-r", f"__ns:={namespace}"]
        args += list(extra_args)
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(), cwd=ROOT
        )
        self.stdout = self.stderr = ""

    def stop(self, timeout: float = 10.0, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.stdout, self.stderr = self.proc.communicate()
        return self.proc.returncode

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def spin_until(node, predicate: Callable[[], bool], timeout: float) -> bool:
    import rclpy

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
        if predicate():
            return True
    return False


class SimClock:
    """Publishes /clock at ``factor`` times real time from the test process (like Gazebo or bag play)."""

    def __init__(self, node, factor: float, start: float = 1000.0, period: float = 0.005):
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from rosgraph_msgs.msg import Clock

        self._msg_type = Clock
        self.pub = node.create_publisher(Clock, "/clock", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.factor, self.start, self.t0 = factor, start, time.monotonic()
        node.create_timer(period, self.tick)  # s: bag play publishes /clock at 40 Hz (0.025)

    def now(self) -> float:
        return self.start + self.factor * (time.monotonic() - self.t0)

    def tick(self) -> None:
        t = self.now()
        msg = self._msg_type()
        msg.clock.sec, msg.clock.nanosec = int(t), int((t % 1) * 1e9)
        self.pub.publish(msg)


def call(node, srv_type, name: str, request, timeout: float = 10.0):
    """Call a service from the test node; returns the response (asserts it arrived)."""
    import rclpy

    client = node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=timeout), f"service {name} not available"
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
    assert future.done(), f"service {name} did not answer"
    return future.result()


def set_params(node, target_node: str, values: dict):
    """ros2 param set, from a test: returns the SetParametersResult list."""
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    req = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
    return call(node, SetParameters, f"{target_node}/set_parameters", req).results


def get_params(node, target_node: str, names: list[str]):
    """ros2 param get, from a test: returns the ParameterValue list."""
    from rcl_interfaces.srv import GetParameters

    return call(node, GetParameters, f"{target_node}/get_parameters", GetParameters.Request(names=names)).values
