"""bms_node and bms-replay run with one BLAS thread (ISSUE 15): checked in a fresh interpreter the way each
entry point starts, with no thread variables in the environment, against numpy alone as the control."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bms_ros.blas_threads import THREAD_VARS

ROOT = Path(__file__).resolve().parents[1]
REPORT = "import json; from bms_ros.blas_threads import blas_threads; print(json.dumps(blas_threads()))"


def threads_after(code: str) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    r = subprocess.run(
        [sys.executable, "-c", f"{code}\n{REPORT}"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_numpy_alone_uses_every_core_so_the_check_can_fail() -> None:
    libs = threads_after("import numpy")
    assert libs, "no BLAS library found in a process that loaded numpy"
    if (os.cpu_count() or 1) > 1:
        assert max(libs.values()) > 1


def test_bms_replay_entry_point_pins_blas_to_one_thread() -> None:
    libs = threads_after("from bms_ros.tools.replay import main")
    assert libs and set(libs.values()) == {1}


def test_pinning_after_numpy_loaded_sets_the_loaded_library() -> None:
    libs = threads_after("import numpy\nfrom bms_ros.blas_threads import pin_blas_threads\npin_blas_threads()")
    assert libs and set(libs.values()) == {1}


@pytest.mark.ros
def test_bms_node_entry_point_pins_blas_to_one_thread() -> None:
    libs = threads_after("from bms_ros.nodes.bms_node import main")
    assert libs and set(libs.values()) == {1}
