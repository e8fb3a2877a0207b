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

    def __init__(self, params: dict | None = None, params_file: str | None = None, extra_args: list[str] = (),
                 node_name: str | None = None, namespace: str | None = None):
        args = [sys.executable, "-m", "bms_ros.nodes.bms_node", "--ros-args"]
        if params is not None:
            args += ["--params-file", write_params(params)]
        if params_file is not None:
            args += ["--params-file", params_file]
        if node_name:
            args += ["-r", f"__node:={node_name}"]
        if namespace:
            args += ["-r", f"__ns:={namespace}"]
        args += list(extra_args)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=os.environ.copy(), cwd=ROOT)
        self.stdout = self.stderr = ""

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
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
