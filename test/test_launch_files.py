"""Launch files, as `ros2 launch bms_ros ...` runs them: every Node names a real executable, parameter files that
load and topics the node really uses; the hardware launch never runs a simulated pack and does not respawn a
rejected configuration.

With launch/launch_ros importable (a ROS install) the real classes are used, and the launch files are also run
by a real LaunchService against a stand-in bms_node executable; without them (pip-only machines, CI here) the
launch files run against stand-ins of the same API, whose keyword names are the real ones. Both paths find the
package through a real ament index (a temporary install prefix)."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest

from bms_ros.config import load_config, read_params_file
from bms_ros.core.aggregator_config import load_aggregator_config
from bms_ros.launch_policy import RESPAWN_DELAY_S

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
NODE_INPUTS = {"cmd_vel", "joint_states", "load_current", "charger_present"}
REAL_LAUNCH = importlib.util.find_spec("launch_ros") is not None
LAUNCH_TIMEOUT_S = 60.0
EXECUTABLES = ("bms_node", "bms_aggregator")

# launch_ros.actions.Node's own keywords, then those it passes to launch.actions.ExecuteProcess (Humble..Rolling)
NODE_KEYWORDS = {
    "executable",
    "package",
    "name",
    "namespace",
    "exec_name",
    "parameters",
    "remappings",
    "ros_arguments",
    "arguments",
    "output",
    "emulate_tty",
    "respawn",
    "respawn_delay",
    "sigterm_timeout",
    "sigkill_timeout",
    "shell",
    "cwd",
    "env",
    "additional_env",
    "prefix",
    "log_cmd",
    "on_exit",
    "cached_output",
    "output_format",
}


# ---- stand-ins of the launch API (used only when the real one is not importable) ----------------------------
class _Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _stub_modules() -> dict[str, types.ModuleType]:
    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        return m

    class LaunchDescription:
        def __init__(self, entities=()):
            self.entities = list(entities)

    class LaunchConfiguration(_Recorded):
        def perform(self, context):
            return context.launch_configurations[self.args[0]]

    class DeclareLaunchArgument(_Recorded):
        def __init__(self, name, *, default_value=None, description=None, choices=None):
            super().__init__(name, default_value=default_value, description=description, choices=choices)

        def visit(self, context):
            context.launch_configurations.setdefault(self.args[0], self.kwargs["default_value"])

    class OpaqueFunction(_Recorded):
        def __init__(self, *, function, args=None, kwargs=None):
            super().__init__(function=function, args=args, kwargs=kwargs)

        def visit(self, context):
            return self.kwargs["function"](context, *(self.kwargs["args"] or ()), **(self.kwargs["kwargs"] or {}))

    class Node(_Recorded):
        def __init__(self, **kwargs):
            unknown = set(kwargs) - NODE_KEYWORDS
            if unknown or "executable" not in kwargs:
                raise TypeError(f"launch_ros.actions.Node() got unexpected keywords {sorted(unknown)}")
            super().__init__(**kwargs)

    def keywords_only(name, *required, **optional):
        def init(self, **kwargs):
            missing, unknown = set(required) - set(kwargs), set(kwargs) - set(required) - set(optional)
            if missing or unknown:
                raise TypeError(f"{name}(): missing {sorted(missing)}, unexpected {sorted(unknown)}")
            _Recorded.__init__(self, **{**optional, **kwargs})

        return type(name, (_Recorded,), {"__init__": init})

    class RegisterEventHandler(_Recorded):
        def __init__(self, event_handler):
            super().__init__(event_handler)

    return {
        "launch": mod("launch", LaunchDescription=LaunchDescription),
        "launch.actions": mod(
            "launch.actions",
            DeclareLaunchArgument=DeclareLaunchArgument,
            OpaqueFunction=OpaqueFunction,
            RegisterEventHandler=RegisterEventHandler,
            LogInfo=keywords_only("LogInfo", "msg"),
            TimerAction=keywords_only("TimerAction", "period", "actions", cancel_on_shutdown=True),
        ),
        "launch.event_handlers": mod(
            "launch.event_handlers", OnProcessExit=keywords_only("OnProcessExit", "on_exit", target_action=None)
        ),
        "launch.substitutions": mod("launch.substitutions", LaunchConfiguration=LaunchConfiguration),
        "launch_ros": mod("launch_ros"),
        "launch_ros.actions": mod("launch_ros.actions", Node=Node),
        "launch_ros.parameter_descriptions": mod(
            "launch_ros.parameter_descriptions", ParameterValue=type("ParameterValue", (_Recorded,), {})
        ),
    }


class _Context:
    """What the launch files use of launch.LaunchContext."""

    def __init__(self, **arguments):
        self.launch_configurations = dict(arguments)
        self.is_shutdown = False


# ---- both paths ---------------------------------------------------------------------------------------------
@pytest.fixture
def ament_prefix(tmp_path, monkeypatch):
    """bms_ros registered in an ament index, as `colcon build` installs it: share/bms_ros (launch, config,
    package.xml) and an executable lib/bms_ros/bms_node (a stand-in that records how it was started)."""
    prefix = tmp_path / "install"
    (prefix / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (prefix / "share" / "ament_index" / "resource_index" / "packages" / "bms_ros").write_text("")
    share = prefix / "share" / "bms_ros"
    share.mkdir()
    for name in ("launch", "config", "package.xml"):
        (share / name).symlink_to(ROOT / name)
    lib = prefix / "lib" / "bms_ros"
    lib.mkdir(parents=True)
    for exe in EXECUTABLES:
        fake = lib / exe
        fake.write_text(
            f"#!{sys.executable}\n"
            + textwrap.dedent("""\
            import json, os, sys
            args = sys.argv[1:]
            files = [args[i + 1] for i, a in enumerate(args) if a == "--params-file"]
            with open(os.environ["FAKE_BMS_STARTS"], "a") as f:
                f.write(json.dumps({"args": args, "params": [open(p).read() for p in files]}) + "\\n")
            sys.exit(int(os.environ.get("FAKE_BMS_EXIT", "0")))
            """)
        )
        fake.chmod(0o755)
    monkeypatch.setenv(
        "AMENT_PREFIX_PATH", os.pathsep.join(filter(None, [str(prefix), os.environ.get("AMENT_PREFIX_PATH")]))
    )
    return prefix


@pytest.fixture
def launch_api(monkeypatch, ament_prefix):
    if REAL_LAUNCH:
        return "real"
    for name, module in _stub_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    if importlib.util.find_spec("ament_index_python") is None:
        monkeypatch.setitem(sys.modules, "ament_index_python", types.ModuleType("ament_index_python"))
        monkeypatch.setitem(
            sys.modules,
            "ament_index_python.packages",
            types.SimpleNamespace(get_package_share_directory=lambda pkg: str(ament_prefix / "share" / pkg)),
        )
    return "stub"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def _context(launch_api: str, **arguments):
    if launch_api == "real":
        from launch import LaunchContext

        context = LaunchContext()
        context.launch_configurations.update(arguments)
        return context
    return _Context(**arguments)


def _expand(entities, context) -> list:
    """Declare the arguments and run the OpaqueFunctions, as launch does; returns every other entity."""
    out = []
    for e in entities:
        kind = type(e).__name__
        if kind == "DeclareLaunchArgument":
            e.visit(context)
        elif kind == "OpaqueFunction":
            out += _expand(e.visit(context) or [], context)
        else:
            out.append(e)
    return out


def _nodes(entities) -> list:
    return [e for e in entities if type(e).__name__ == "Node"]


def _on_exit_handler(entities):
    """The on_exit callable of the OnProcessExit registered for the node."""
    (register,) = [e for e in entities if type(e).__name__ == "RegisterEventHandler"]
    handler = register.args[0] if isinstance(register, _Recorded) else register.event_handler
    if isinstance(handler, _Recorded):
        return handler.kwargs["on_exit"]
    return handler.handle  # real OnProcessExit: calls on_exit(event, context)


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_starts_bms_nodes_with_loadable_parameters(path, launch_api, ament_prefix):
    ld = _load(path)
    context = _context(launch_api)
    entities = _expand(ld.entities, context)
    nodes = _nodes(entities)
    assert nodes, "no Node in the launch description"
    if launch_api == "real":
        from launch_ros.actions import Node

        assert set(inspect.signature(Node.__init__).parameters) - {"self", "kwargs"} <= NODE_KEYWORDS
        for node in nodes:
            assert node.node_package == "bms_ros" and node.node_executable in EXECUTABLES
        config = context.launch_configurations.get("config")
        if config:
            load_config(read_params_file(config))
        return
    declared = {e.args[0] for e in ld.entities if type(e).__name__ == "DeclareLaunchArgument"}
    for node in nodes:
        kw = node.kwargs
        assert kw["package"] == "bms_ros"
        assert os.access(ament_prefix / "lib" / "bms_ros" / kw["executable"], os.X_OK)
        assert (ROOT / "scripts" / kw["executable"]).exists(), f"no executable {kw['executable']}"
        assert not kw.get("emulate_tty"), "emulate_tty writes colour codes into redirected logs"
        for p in kw.get("parameters", []):
            if isinstance(p, str) and kw["executable"] == "bms_aggregator":
                load_aggregator_config(read_params_file(p, "bms_aggregator"))
            elif isinstance(p, str):
                load_config(read_params_file(p))
            elif type(p).__name__ == "LaunchConfiguration":
                assert p.args[0] in declared
            else:
                assert isinstance(p, dict) and set(p) <= {"use_sim_time", "sim.load_source", "afe.require_hardware"}
        for source, _target in kw.get("remappings", []):
            assert source in NODE_INPUTS, f"remaps {source}, which bms_node does not use"
        for value in kw.values():
            if type(value).__name__ == "LaunchConfiguration":
                assert value.args[0] in declared, f"{value.args[0]} is used but not declared"
    config = context.launch_configurations.get("config")
    if config:
        load_config(read_params_file(config))


# ---- the hardware launch (issue 20: 1 and 3) ---------------------------------------------------------------
HARDWARE = ROOT / "launch" / "bms.launch.py"


def _hardware_node_parameters(node, context) -> dict:
    if isinstance(node, _Recorded):
        params = node.kwargs["parameters"]
    else:
        from launch_ros.utilities import evaluate_parameters

        params = evaluate_parameters(context, node._Node__parameters)
    merged = {}
    for p in params:
        if isinstance(p, dict):
            merged.update(p)
    return merged


def test_hardware_launch_refuses_a_missing_config_file(launch_api, tmp_path):
    typo = tmp_path / "my_pack_typo.yaml"
    ld = _load(HARDWARE)
    with pytest.raises(RuntimeError, match=r"my_pack_typo\.yaml does not exist.*never falls back"):
        _expand(ld.entities, _context(launch_api, config=str(typo)))


def test_hardware_launch_makes_the_node_require_hardware(launch_api):
    """Whatever the parameter file says, the node it starts refuses a simulated afe.type."""
    context = _context(launch_api)
    (node,) = _nodes(_expand(_load(HARDWARE).entities, context))
    params = _hardware_node_parameters(node, context)
    assert params.get("afe.require_hardware") is True, params
    assert not (node.kwargs.get("respawn") if isinstance(node, _Recorded) else False), (
        "launch_ros's respawn restarts on any exit, a rejected configuration too"
    )


def test_hardware_launch_does_not_respawn_a_rejected_configuration(launch_api):
    context = _context(launch_api)
    on_exit = _on_exit_handler(_expand(_load(HARDWARE).entities, context))
    with pytest.raises(RuntimeError, match="configuration error is permanent: not respawning"):
        on_exit(types.SimpleNamespace(returncode=2), context)


def test_hardware_launch_respawns_a_crash_with_a_back_off(launch_api):
    context = _context(launch_api)
    on_exit = _on_exit_handler(_expand(_load(HARDWARE).entities, context))
    delays = []
    for _ in range(3):
        actions = on_exit(types.SimpleNamespace(returncode=1), context)
        (timer,) = [a for a in actions if type(a).__name__ == "TimerAction"]
        if isinstance(timer, _Recorded):
            delays.append(timer.kwargs["period"])
            respawn = timer.kwargs["actions"]
        else:
            from launch.utilities.type_utils import perform_typed_substitution

            delays.append(perform_typed_substitution(context, timer.period, float))
            respawn = timer.actions if hasattr(timer, "actions") else timer._TimerAction__actions
        on_exit = _on_exit_handler(_expand(respawn, context))
        assert _nodes(_expand(respawn, context)), "the respawn starts the node again"
    assert delays == [RESPAWN_DELAY_S, 2 * RESPAWN_DELAY_S, 4 * RESPAWN_DELAY_S]


def test_hardware_launch_does_not_respawn_while_launch_shuts_down(launch_api):
    context = _context(launch_api)
    on_exit = _on_exit_handler(_expand(_load(HARDWARE).entities, context))
    if launch_api == "real":
        context._set_is_shutdown(True)
    else:
        context.is_shutdown = True
    assert on_exit(types.SimpleNamespace(returncode=-2), context) is None


# ---- a real LaunchService (only where launch/launch_ros are installed) -------------------------------------
RUN_LAUNCH = """
import sys
from launch import LaunchDescription, LaunchService
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
path, *args = sys.argv[1:]
service = LaunchService()
service.include_launch_description(LaunchDescription([IncludeLaunchDescription(
    PythonLaunchDescriptionSource(path), launch_arguments=[tuple(a.split(":=", 1)) for a in args])]))
sys.exit(service.run())
"""


def _launch(ament_prefix, tmp_path, exit_code: int, *args: str) -> tuple[subprocess.Popen, Path]:
    starts = tmp_path / "starts.jsonl"
    env = {
        **os.environ,
        "FAKE_BMS_STARTS": str(starts),
        "FAKE_BMS_EXIT": str(exit_code),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_LAUNCH, str(HARDWARE), *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, starts


def _starts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


real_launch_only = pytest.mark.skipif(not REAL_LAUNCH, reason="needs the real launch and launch_ros")


@real_launch_only
def test_ros2_launch_hardware_with_a_missing_config_fails_without_starting_anything(ament_prefix, tmp_path):
    proc, starts = _launch(ament_prefix, tmp_path, 0, f"config:={tmp_path / 'my_pack_typo.yaml'}")
    out = proc.communicate(timeout=LAUNCH_TIMEOUT_S)[0]
    assert proc.returncode != 0 and "my_pack_typo.yaml does not exist" in out, out
    assert _starts(starts) == []


@real_launch_only
def test_ros2_launch_hardware_stops_on_a_rejected_configuration(ament_prefix, tmp_path):
    proc, starts = _launch(ament_prefix, tmp_path, 2)
    out = proc.communicate(timeout=LAUNCH_TIMEOUT_S)[0]
    assert proc.returncode != 0 and "not respawning" in out, out
    (start,) = _starts(starts)
    assert any("require_hardware: true" in p for p in start["params"]), start


@real_launch_only
def test_ros2_launch_hardware_respawns_a_crashed_node(ament_prefix, tmp_path):
    proc, starts = _launch(ament_prefix, tmp_path, 1)
    end = time.monotonic() + LAUNCH_TIMEOUT_S
    while len(_starts(starts)) < 2 and time.monotonic() < end and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=LAUNCH_TIMEOUT_S)[0]
    assert len(_starts(starts)) >= 2 and "respawning in" in out, out
