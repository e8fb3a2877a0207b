"""bms_node stopped the way `ros2 launch` stops it without a terminal (scripts, CI, supervisors): SIGINT reaches
the whole process group, and launch forwards a second SIGINT a moment later. The shutdown must still save the
state, set the shutdown FET state and exit 0, and leave no temporary file behind.

BMS_SIGINT_RUNS sets how many runs (default 3, a few seconds each); bench/bench_shutdown_signals.py runs 20."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from rostest_util import ROOT, write_params

pytestmark = pytest.mark.ros

RUNS = int(os.environ.get("BMS_SIGINT_RUNS", "3"))
# gap between the two SIGINTs: launch forwards its own within milliseconds; spread over the shutdown's length
GAPS_S = (0.02, 0.005, 0.05, 0.0, 0.1, 0.03, 0.01, 0.2)
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
RUNNING_S = 0.5  # let the node step a few times before stopping it

SIM_4S = {
    "rate_hz": 10.0,
    "pack": {"cell_count": 4, "chemistry": "nmc", "design_capacity_ah": 10.0},
    "afe": {"type": "sim"},
    "sim": {"initial_soc": 0.6, "load_current": 4.0},
}


def start_in_own_process_group(params: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bms_ros.nodes.bms_node", "--ros-args", "--params-file", write_params(params)],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def read_until(proc: subprocess.Popen, text: bytes, timeout: float) -> bytes:
    """stderr up to the first occurrence of ``text`` (the node's log), or fail with what was printed."""
    got, end, fd = b"", time.monotonic() + timeout, proc.stderr.fileno()
    while text not in got:
        assert time.monotonic() < end and proc.poll() is None, f"node did not start: {got.decode()}"
        if select.select([fd], [], [], 0.1)[0]:
            got += os.read(fd, 65536)
    return got


def stop_like_launch(tmp_path, gap_s: float) -> tuple[int, str, float]:
    """One run: start, let it run, SIGINT the process group twice ``gap_s`` apart. Returns (exit code,
    stderr, wall time of the first SIGINT)."""
    state = tmp_path / "bms_state.json"
    proc = start_in_own_process_group({**SIM_4S, "state_file": str(state)})
    try:
        err = read_until(proc, b"pack on sim", STARTUP_TIMEOUT_S)
        time.sleep(RUNNING_S)
        first = time.time()
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(gap_s)
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.communicate(timeout=STOP_TIMEOUT_S)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, (err + rest).decode(errors="replace"), first


@pytest.mark.parametrize("run", range(RUNS))
def test_second_sigint_during_shutdown_still_saves_the_state(tmp_path, run):
    rc, stderr, first_sigint = stop_like_launch(tmp_path, GAPS_S[run % len(GAPS_S)])
    assert rc == 0, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    state = tmp_path / "bms_state.json"
    sections = json.loads(state.read_text())["sections"]
    assert set(sections) >= {"protection", "estimator"} and len(sections["estimator"]["cell_soc"]) == 4
    assert state.stat().st_mtime >= first_sigint - 0.05, "the state was not saved at shutdown"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bms_state.json"], "a temporary file was left behind"
    assert "stopping on SIGINT" in stderr, stderr
