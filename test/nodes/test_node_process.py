"""bms_node as a separate process, observed from this one (issue: walking skeleton)."""

import math
import subprocess
import sys
import time

import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState
from test_envelope import UNSAFE

from bms_ros.msg import BmsStatus

from rostest_util import ROOT, NodeProcess, spin_until, write_params

pytestmark = pytest.mark.ros

SIM_4S = {
    "rate_hz": 10.0,
    "pack": {"cell_count": 4, "chemistry": "nmc", "design_capacity_ah": 10.0},
    "afe": {"type": "sim"},
    "sim": {"initial_soc": 0.6, "load_current": 4.0},
}


def collect(node, msg_type, topic, count, timeout, qos=10):
    got = []
    node.create_subscription(msg_type, topic, lambda m: got.append((time.monotonic(), m)), qos)
    spin_until(node, lambda: len(got) >= count, timeout)
    return got


def test_battery_state_semantics_and_rate(ros_node):
    with NodeProcess(SIM_4S) as proc:
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        got = collect(ros_node, BatteryState, "/battery_state", 45, 30.0, qos)
        assert proc.proc.poll() is None, proc.proc.stderr.read()
    assert len(got) >= 45
    # rate: skip the first messages (discovery), measure over the rest
    t = [g[0] for g in got[5:]]
    rate = (len(t) - 1) / (t[-1] - t[0])
    assert abs(rate - 10.0) <= 1.0, f"published at {rate:.2f} Hz"
    m = got[-1][1]
    assert m.header.frame_id == "battery" and (m.header.stamp.sec or m.header.stamp.nanosec)
    assert 0.0 <= m.percentage <= 1.0
    assert m.current < 0, "the simulated load discharges: current must be negative"
    assert len(m.cell_voltage) == 4 and all(3.0 < v < 4.3 for v in m.cell_voltage)
    assert m.voltage == pytest.approx(sum(m.cell_voltage), abs=0.05)
    assert m.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
    assert m.power_supply_health == BatteryState.POWER_SUPPLY_HEALTH_GOOD
    assert m.power_supply_technology == BatteryState.POWER_SUPPLY_TECHNOLOGY_LION
    assert m.present
    assert m.design_capacity == pytest.approx(10.0)
    assert m.capacity == pytest.approx(10.0, rel=0.2), "learned capacity starts at the rated one"
    assert 0.0 < m.charge <= m.capacity and m.charge == pytest.approx(m.percentage * m.capacity, abs=1.5)
    assert len(m.cell_temperature) == 4 and all(math.isnan(x) for x in m.cell_temperature), (
        "one thermistor for four cells: per-cell temperatures are unknown"
    )


def test_bms_status_round_trips_between_processes(ros_node):
    with NodeProcess(SIM_4S):
        got = collect(ros_node, BmsStatus, "/bms_node/status", 15, 30.0)
    assert got, "no BmsStatus received"
    s = got[-1][1]
    assert s.header.frame_id == "battery"
    assert s.state == BmsStatus.STATE_DISCHARGING
    assert s.discharge_fet and s.discharge_fet_commanded
    assert s.faults_active == 0 and list(s.fault_names) == []
    assert 0.0 < s.soc < 1.0
    assert s.cell_voltage_min <= s.cell_voltage_max and s.cell_index_min < 4


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"pack": {"cell_count": 0}}, "pack.cell_count: 0 is below the minimum 1"),
        ({"pack": {"cell_count": "four"}}, "pack.cell_count: expected an integer"),
        ({"bogus_key": 1}, "bogus_key: unknown parameter"),
        # ISSUE 11: outside the chemistry envelope, or a thermistor the chip cannot have (was a traceback)
        (
            {"protection": {"cell_overvoltage_hard": {"threshold": 4.7}}},
            "protection.cell_overvoltage_hard.threshold: 4.7 V is outside the nmc envelope",
        ),
        ({"protection": {"stale_timeout": 60.0}}, "protection.stale_timeout: 60 s is longer than"),
        (
            {"pack": {"cell_count": 4}, "afe": {"type": "sim_bq769x0", "thermistor_count": 3}},
            "afe.thermistor_count: 3 thermistors, but a 4-cell pack uses a bq76920, which has 1 TS input(s)",
        ),
    ],
)
def test_bad_config_stops_the_node_with_a_one_line_reason(params, reason):
    r = subprocess.run(
        [sys.executable, "-m", "bms_ros.nodes.bms_node", "--ros-args", "--params-file", write_params(params)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("bms_node:")]
    assert len(lines) == 1 and reason in lines[0], r.stderr


@pytest.mark.parametrize(
    "text, reason",
    [
        ("/**:\n  ros__parameters:\n    pack: {cell_count: 4\n", "not valid YAML: expected ',' or '}'"),
        ("/**:\n  parameters:\n    rate_hz: 10.0\n", "section '/**' has no ros__parameters mapping"),
        ('/**:\n  ros__parameters:\n    rate_hz: [1, "a", 2.0]\n', "rate_hz: a parameter list holds one type"),
    ],
    ids=["malformed-yaml", "missing-ros__parameters", "mixed-type-list"],
)
def test_a_parameter_file_rcl_cannot_parse_stops_the_node_with_a_one_line_reason(tmp_path, text, reason):
    """rcl parses the file before any of our code runs; its error used to end in a traceback (ISSUE 11)."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    r = subprocess.run(
        [sys.executable, "-m", "bms_ros.nodes.bms_node", "--ros-args", "--params-file", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("bms_node:") and reason in lines[0], r.stderr


@pytest.mark.parametrize("params, words", UNSAFE.values(), ids=UNSAFE.keys())
def test_every_unsafe_file_of_issue_11_stops_the_node_with_exit_code_2(params, words):
    r = subprocess.run(
        [sys.executable, "-m", "bms_ros.nodes.bms_node", "--ros-args", "--params-file", write_params(params)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and all(w in lines[0] for w in words), r.stderr


def test_allow_outside_envelope_starts_and_logs_each_setting_outside_as_an_error(ros_node):
    params = {
        **SIM_4S,
        "protection": {"allow_outside_envelope": True, "stale_timeout": 10.0, "cell_overvoltage": {"delay": 20.0}},
    }
    proc = NodeProcess(params)
    got = collect(ros_node, BmsStatus, "/bms_node/status", 3, 30.0)
    assert proc.stop() == 0 and got, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if "OUTSIDE THE CHEMISTRY ENVELOPE" in ln]
    assert len(errors) == 2 and "ERROR" in errors[0], proc.stderr
    assert "protection.cell_overvoltage.delay: 20 s" in errors[0] and "protection.stale_timeout: 10 s" in errors[1]


def test_sigterm_persists_state_and_exits_cleanly(ros_node, tmp_path):
    import json
    import signal

    state = tmp_path / "bms_state.json"
    params = {**SIM_4S, "state_file": str(state)}
    proc = NodeProcess(params)
    got = collect(ros_node, BmsStatus, "/bms_node/status", 20, 30.0)
    assert got, "no status"
    rc = proc.stop(sig=signal.SIGTERM)
    assert rc == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    sections = json.loads(state.read_text())["sections"]
    assert set(sections) >= {"protection", "estimator"}
    est = sections["estimator"]
    assert est["cell_count"] == 4 and len(est["cell_soc"]) == 4
    assert min(est["cell_soc"]) == pytest.approx(got[-1][1].soc, abs=0.02), "saved at shutdown, not only periodically"
    assert not list(tmp_path.glob("*.tmp*")), "no temporary file left behind"


def test_readme_main_command_runs_the_simulated_pack_with_a_live_view(ros_node):
    """./dev sim (python -m bms_ros.tools.sim_demo) with the default config, seen from another process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bms_ros.tools.sim_demo", "--duration", "8", "--period", "0.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    got = collect(
        ros_node, BatteryState, "/battery_state", 20, 20.0, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    )
    out, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, err
    assert got, "no BatteryState from the README's main command"
    m = got[-1][1]
    assert 0.0 <= m.percentage <= 1.0 and m.current < 0 and len(m.cell_voltage) == 4  # config/sim.yaml: 4S
    view = out.splitlines()
    assert any(line.startswith("pack") and " V " in line and "SoC" in line for line in view), out
    assert any("cells min" in line for line in view) and any("faults:" in line for line in view), out


def test_missing_i2c_bus_stops_the_node_with_the_reason():
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "bms_ros.nodes.bms_node",
            "--ros-args",
            "--params-file",
            write_params({"afe": {"type": "bq769x0", "i2c_bus": 250}}),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("bms_node:")]
    assert r.returncode == 1 and len(lines) == 1 and "/dev/i2c-250" in lines[0], r.stderr


def _run_node(*ros_args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bms_ros.nodes.bms_node", "--ros-args", *ros_args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def _unparsable_yaml(tmp_path) -> str:
    p = tmp_path / "pack.yaml"
    p.write_text("/**:\n  ros__parameters:\n    rate_hz: [10\n")
    return str(p)


@pytest.mark.parametrize(
    "make_path, reason",
    [(lambda tmp: str(tmp / "my_pack_typo.yaml"), "my_pack_typo.yaml"), (_unparsable_yaml, "pack.yaml")],
    ids=["missing", "unparsable"],
)
def test_unusable_params_file_is_one_line_and_exit_2(tmp_path, make_path, reason):
    """The README's promise for bad configuration holds for the file itself, not only for its values."""
    r = _run_node("--params-file", make_path(tmp_path))
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("bms_node: invalid configuration:") and reason in lines[0], r.stderr


def test_bad_ros_argument_is_one_line_and_exit_2():
    r = _run_node("-p", "rate_hz")  # rcl's own argument parsing rejects it (and logs that itself)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("bms_node:")]
    assert len(lines) == 1 and "-p rate_hz" in lines[0] and " at /" not in lines[0], r.stderr


@pytest.mark.parametrize(
    "afe",
    [
        {"require_hardware": True},
        {"type": "sim", "require_hardware": True},
        {"type": "replay", "require_hardware": True},
    ],
    ids=["afe.type-not-given", "sim", "replay"],
)
def test_node_started_for_hardware_refuses_a_simulated_pack(afe):
    """bms.launch.py sets afe.require_hardware: a parameter file without a hardware afe.type must not run a
    simulated pack while the real one goes unmonitored."""
    r = _run_node("--params-file", write_params({"afe": afe}))
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("bms_node:")]
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "afe.type" in lines[0] and "not hardware" in lines[0] and "bq769x0" in lines[0], lines[0]


@pytest.mark.parametrize("after_s", [0.3, 1.5])
def test_ctrl_c_while_the_demo_starts_prints_no_traceback(after_s):
    """./dev sim, Ctrl-C before the first screen (rclpy takes seconds to import on a busy machine): the
    terminal's SIGINT reaches the demo and the node alike; both must stop quietly."""
    import os
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-m", "bms_ros.tools.sim_demo", "--period", "0.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(after_s)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert proc.returncode in (0, 1), err  # 1: stopped before any data arrived (--require-data)
