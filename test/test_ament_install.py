"""What colcon builds on a ROS install: the package's own CMakeLists.txt, configured, built and installed
with ament_cmake (from the ros-jazzy wheels here), must yield the node executables, the messages merged into
the Python package, and launch/ + config/ under share/bms_ros; the installed node must then run."""

from __future__ import annotations

import os
import re
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
    cfg = [
        "cmake",
        "-S",
        str(ROOT),
        "-B",
        str(build),
        f"-DCMAKE_INSTALL_PREFIX={prefix}",
        f"-DPython3_EXECUTABLE={sys.executable}",
        f"-DPython3_NumPy_INCLUDE_DIR={link}",
        f"-DCMAKE_PREFIX_PATH={VENV}",
        "-DBUILD_TESTING=OFF",
    ]
    for cmd in (cfg, ["cmake", "--build", str(build), f"-j{os.cpu_count() or 2}"], ["cmake", "--install", str(build)]):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return prefix


def test_install_tree_has_what_ros2_run_and_launch_need(install):
    share = install / "share" / "bms_ros"
    for f in (
        "package.xml",
        "launch/sim.launch.py",
        "launch/bms.launch.py",
        "launch/two_pack.launch.py",
        "config/sim.yaml",
        "config/bq769x0.yaml",
        "config/diagnostics_analyzers.yaml",
        "msg/BmsStatus.msg",
        "msg/AfeSample.msg",
        "msg/ChargeLimits.msg",
        "docs/fault_policies.md",
    ):
        assert (share / f).is_file(), f
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "bms_ros").is_file()
    for exe in ("bms_node", "bms_monitor", "bms_replay"):
        assert os.access(install / "lib" / "bms_ros" / exe, os.X_OK), exe
    pkg = next((install / "lib").glob("python3*/site-packages/bms_ros"))
    assert (pkg / "msg" / "_bms_status.py").is_file() and (pkg / "core" / "bms.py").is_file()
    assert (pkg / "msg" / "_charge_limits.py").is_file() and (pkg / "data" / "bms_0x35x.dbc").is_file()
    assert not (pkg / "msg").is_symlink()


def test_installed_package_runs_without_the_source_tree(install, tmp_path):
    site = next((install / "lib").glob("python3*/site-packages"))
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "LD_LIBRARY_PATH": f"{install / 'lib'}:" + os.environ.get("LD_LIBRARY_PATH", ""),
        "AMENT_PREFIX_PATH": f"{install}:{VENV}",
    }
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)
    code = (
        "import bms_ros, bms_ros.msg, bms_ros.core.bms; from bms_ros.msg import BmsStatus; "
        "print(bms_ros.__file__); print(BmsStatus.FAULT_SHORT_CIRCUIT)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert str(site) in r.stdout.splitlines()[0] and r.stdout.splitlines()[1] == "512"
    # the script's shebang is /usr/bin/env python3 (a ROS install's Python); here: this environment's
    run = subprocess.run(
        [sys.executable, str(install / "lib" / "bms_ros" / "bms_node"), "--ros-args", "-p", "pack.cell_count:=0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert run.returncode == 2 and "pack.cell_count" in run.stderr


def readme_commands() -> list[str]:
    """Every command the README shows (code blocks and inline code) that runs something of this package."""
    text = (ROOT / "README.md").read_text()
    lines = [ln for block in re.findall(r"```(?:bash)?\n(.*?)```", text, re.S) for ln in block.splitlines()]
    # inline code with arguments (a lone `bms_node` is the node's name, not a command)
    lines += [c for c in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S)) if " " in c]
    out = []
    for line in lines:
        for part in re.split(r"&&|;|\|", line.split("#")[0]):
            words = part.split()
            if words and (
                (re.fullmatch(r"bms[-_][a-z_]+", words[0]) and words[0] != "bms_ros")
                or words[:3] in (["ros2", "run", "bms_ros"], ["ros2", "launch", "bms_ros"])
            ):
                out.append(" ".join(words))
    return out


def console_scripts() -> set[str]:
    return set(re.findall(r'"([\w-]+) = bms_ros\.', (ROOT / "setup.py").read_text()))


def test_every_readme_command_exists_in_a_colcon_install_and_in_the_pip_install(install):
    """README commands are true for both installs: `ros2 run/launch bms_ros ...` on colcon, and the bare tool
    names (bms-replay, bms-policies) on colcon (install/bin, on PATH after sourcing setup.bash) and in pip."""
    commands = readme_commands()
    assert any(c.startswith("bms-replay") for c in commands) and any(c.startswith("ros2 launch") for c in commands)
    for command in commands:
        words = command.split()
        if words[:2] == ["ros2", "run"]:
            assert os.access(install / "lib" / "bms_ros" / words[3], os.X_OK), command
        elif words[:2] == ["ros2", "launch"]:
            assert (install / "share" / "bms_ros" / "launch" / words[3]).is_file(), command
        else:
            assert os.access(install / "bin" / words[0], os.X_OK), f"{command}: not in a colcon install's bin/"
            assert words[0] in console_scripts(), f"{command}: not a console script of the pip install"


def test_installed_tools_run_under_their_readme_names(install, tmp_path):
    site = next((install / "lib").glob("python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": str(site), "AMENT_PREFIX_PATH": f"{install}:{VENV}"}
    for tool in ("bms-replay", "bms-policies"):
        r = subprocess.run(
            [sys.executable, str(install / "bin" / tool), "--help"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert r.returncode == 0 and "usage" in r.stdout.lower(), (tool, r.stderr)


def test_package_xml_declares_every_ros_package_the_code_imports():
    """rosdep installs what package.xml names; a ROS package imported but not declared breaks a fresh robot."""
    import ast
    import xml.etree.ElementTree as ET

    declared = {
        e.text for e in ET.parse(ROOT / "package.xml").getroot() if e.tag in ("depend", "exec_depend", "build_depend")
    }
    ros_named = {"rclpy", "diagnostic_updater", "ament_index_python", "launch", "launch_ros"}
    imported = set()
    for f in [*(ROOT / "bms_ros").rglob("*.py"), *(ROOT / "launch").glob("*.py")]:
        if "msg" in f.relative_to(ROOT).parts[:2]:
            continue  # generated
        for node in ast.walk(ast.parse(f.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.module and not node.level
                else []
            )
            imported.update(n.split(".")[0] for n in names)
    ros = {m for m in imported if m in ros_named or m.endswith(("_msgs", "_srvs", "_interfaces"))}
    assert ros and ros <= declared, f"imported but not in package.xml: {sorted(ros - declared)}"
