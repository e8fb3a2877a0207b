"""Launch files: every Node they start names a real executable, parameter files that load, and topics the
node really uses. With launch/launch_ros installed the real classes are used; without them (pip-only
machines) generate_launch_description() runs against recording stand-ins of the same API."""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

from bms_ros.config import load_config, read_params_file

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
NODE_INPUTS = {"cmd_vel", "joint_states", "load_current", "charger_present"}


class _Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _stub_modules() -> dict[str, types.ModuleType]:
    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        return m

    class LaunchConfiguration(_Recorded):
        pass

    class Node(_Recorded):
        pass

    return {
        "launch": mod("launch", LaunchDescription=lambda entities: list(entities)),
        "launch.actions": mod("launch.actions", DeclareLaunchArgument=type("DeclareLaunchArgument", (_Recorded,), {})),
        "launch.substitutions": mod("launch.substitutions", LaunchConfiguration=LaunchConfiguration),
        "launch_ros": mod("launch_ros"),
        "launch_ros.actions": mod("launch_ros.actions", Node=Node),
        "launch_ros.parameter_descriptions": mod("launch_ros.parameter_descriptions",
                                                 ParameterValue=type("ParameterValue", (_Recorded,), {})),
        "ament_index_python": mod("ament_index_python"),
        "ament_index_python.packages": mod("ament_index_python.packages",
                                           get_package_share_directory=lambda pkg: str(ROOT)),
    }


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


@pytest.fixture
def launch_api(monkeypatch):
    if importlib.util.find_spec("launch_ros") is None:
        for name, module in _stub_modules().items():
            monkeypatch.setitem(sys.modules, name, module)
        return "stub"
    return "real"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_starts_bms_nodes_with_loadable_parameters(path, launch_api):
    if launch_api == "real":
        from launch_ros.actions import Node
        ld = _load(path)
        nodes = [e for e in ld.entities if isinstance(e, Node)]
        assert nodes and all(n.node_package == "bms_ros" and n.node_executable == "bms_node" for n in nodes)
        return
    entities = _load(path)
    nodes = [e for e in entities if type(e).__name__ == "Node"]
    assert nodes, "no Node in the launch description"
    declared = {e.args[0] for e in entities if type(e).__name__ == "DeclareLaunchArgument"}
    for node in nodes:
        kw = node.kwargs
        assert kw["package"] == "bms_ros"
        assert (ROOT / "scripts" / kw["executable"]).exists(), f"no executable {kw['executable']}"
        for p in kw.get("parameters", []):
            if isinstance(p, str):
                load_config(read_params_file(p))
            elif type(p).__name__ == "LaunchConfiguration":
                assert p.args[0] in declared
            else:
                assert isinstance(p, dict) and set(p) <= {"use_sim_time", "sim.load_source"}
        for source, _target in kw.get("remappings", []):
            assert source in NODE_INPUTS, f"remaps {source}, which bms_node does not use"
        for value in kw.values():
            if type(value).__name__ == "LaunchConfiguration":
                assert value.args[0] in declared, f"{value.args[0]} is used but not declared"
        defaults = {e.args[0]: e.kwargs.get("default_value") for e in entities
                    if type(e).__name__ == "DeclareLaunchArgument"}
        if isinstance(defaults.get("config"), str):
            load_config(read_params_file(defaults["config"]))
