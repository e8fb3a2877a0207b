"""What colcon builds on a ROS install: the package's own CMakeLists.txt, configured, built and installed
with ament_cmake (from the ros-jazzy wheels here), must yield the node executables, the messages merged into
the Python package, and launch/ + config/ under share/bms_ros; the installed node must then run."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    if shutil.which("cmake") is None or not (VENV / "share" / "ament_cmake").is_dir():
        pytest.skip("needs cmake and ament_cmake")
    build, prefix = tmp_path_factory.mktemp("build"), tmp_path_factory.mktemp("install")
    link = Path(os.path.expanduser("~/.cache/bms_ros")) / "test_numpy_include"
    link.parent.mkdir(parents=True, exist_ok=True)
    import numpy
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(numpy.get_include())
    env = {**os.environ, "AMENT_PREFIX_PATH": str(VENV)}
    cfg = ["cmake", "-S", str(ROOT), "-B", str(build), f"-DCMAKE_INSTALL_PREFIX={prefix}",
           f"-DPython3_EXECUTABLE={sys.executable}", f"-DPython3_NumPy_INCLUDE_DIR={link}",
           f"-DCMAKE_PREFIX_PATH={VENV}", "-DBUILD_TESTING=OFF"]
    for cmd in (cfg, ["cmake", "--build", str(build), f"-j{os.cpu_count() or 2}"], ["cmake", "--install", str(build)]):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return prefix


def test_install_tree_has_what_ros2_run_and_launch_need(install):
    share = install / "share" / "bms_ros"
    for f in ("package.xml", "launch/sim.launch.py", "launch/bms.launch.py", "launch/two_pack.launch.py",
              "config/sim.yaml", "config/bq769x0.yaml", "config/diagnostics_analyzers.yaml", "msg/BmsStatus.msg",
              "msg/AfeSample.msg"):
        assert (share / f).is_file(), f
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "bms_ros").is_file()
    for exe in ("bms_node", "bms_monitor", "bms_replay"):
        assert os.access(install / "lib" / "bms_ros" / exe, os.X_OK), exe
    pkg = next((install / "lib").glob("python3*/site-packages/bms_ros"))
    assert (pkg / "msg" / "_bms_status.py").is_file() and (pkg / "core" / "bms.py").is_file()
    assert not (pkg / "msg").is_symlink()


def test_installed_package_runs_without_the_source_tree(install, tmp_path):
    site = next((install / "lib").glob("python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": str(site), "LD_LIBRARY_PATH": f"{install / 'lib'}:"
           + os.environ.get("LD_LIBRARY_PATH", ""), "AMENT_PREFIX_PATH": f"{install}:{VENV}"}
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)
    code = ("import bms_ros, bms_ros.msg, bms_ros.core.bms; from bms_ros.msg import BmsStatus; "
            "print(bms_ros.__file__); print(BmsStatus.FAULT_SHORT_CIRCUIT)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert str(site) in r.stdout.splitlines()[0] and r.stdout.splitlines()[1] == "512"
    # the script's shebang is /usr/bin/env python3 (a ROS install's Python); here: this environment's
    run = subprocess.run([sys.executable, str(install / "lib" / "bms_ros" / "bms_node"), "--ros-args", "-p",
                          "pack.cell_count:=0"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert run.returncode == 2 and "pack.cell_count" in run.stderr
