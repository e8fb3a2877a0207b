"""The architecture is enforced, not just drawn: core never imports ROS, afe never imports nodes."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "bms_ros"
ROS_MODULES = {
    "rclpy",
    "sensor_msgs",
    "diagnostic_msgs",
    "std_msgs",
    "std_srvs",
    "rcl_interfaces",
    "diagnostic_updater",
    "builtin_interfaces",
    "launch",
    "launch_ros",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offenders(subpackage: str, forbidden: set[str], forbidden_prefixes: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for f in sorted((PKG / subpackage).rglob("*.py")):
        for mod in imported_modules(f):
            if mod.split(".")[0] in forbidden or mod.startswith(forbidden_prefixes):
                bad.append(f"{f.relative_to(PKG.parent)} imports {mod}")
    return bad


def test_core_imports_no_ros_and_nothing_above_it():
    assert (
        offenders(
            "core", ROS_MODULES, ("bms_ros.afe", "bms_ros.nodes", "bms_ros.tools", "bms_ros.msg", "bms_ros.config")
        )
        == []
    )


def test_afe_imports_no_ros_and_no_nodes():
    assert offenders("afe", ROS_MODULES, ("bms_ros.nodes", "bms_ros.tools", "bms_ros.msg")) == []


@pytest.mark.parametrize("subpackage", ["nodes", "tools"])
def test_nodes_and_tools_use_only_the_public_api_of_core_and_afe(subpackage):
    """ISSUE 12: ``bms_ros.core`` and ``bms_ros.afe`` are the doors (their ``__all__``); a module inside them
    can move without touching the layers above."""
    assert offenders(subpackage, set(), ("bms_ros.core.", "bms_ros.afe.")) == []


def test_the_public_api_names_exist():
    import bms_ros.afe
    import bms_ros.core

    for pkg in (bms_ros.core, bms_ros.afe):
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None, f"{pkg.__name__}.{name}"


def test_importing_the_core_loads_no_ros_at_runtime():
    code = (
        "import sys, pkgutil, importlib, bms_ros.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'bms_ros.core.'): importlib.import_module(m.name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(ROS_MODULES)!r})\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_can_libraries_load_only_when_can_output_is_enabled():
    """python-can and cantools are optional (pip install bms_ros[can]): the node and its configuration import
    neither unless can.enabled."""
    pytest.importorskip("rclpy", reason="the node needs rclpy (./dev compat runs the ROS-free layers only)")
    code = (
        "import sys, bms_ros.config, bms_ros.can_frames, bms_ros.nodes.bms_node, bms_ros.nodes.charger_outputs\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('can', 'cantools'))\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
