"""The FMEA (docs/fmea.md) is generated from the safety case and the policy table, names tests that exist, covers
every fault, asks no less of POLICY than the hazards require, and (slow) its tests fail without the reaction."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from bms_ros.core.faults import Fault
from bms_ros.core.protection import POLICY
from bms_ros.core.safety_case import REQUIRES, ROWS, Row
from bms_ros.tools.fmea import render
from bms_ros.tools.policies import main as policies_main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "fmea.md"
# test files the ISSUE 11 faults bring (written with them); until they exist their names cannot be checked
PENDING_FILES = {"test/core/test_protection_robust.py"}
IN_POLICY = {r.fault.name: r for r in POLICY}


def test_docs_fmea_is_generated_from_the_code(capsys):
    assert DOC.read_text() == render({}), "regenerate: bms-policies --fmea > docs/fmea.md"
    assert policies_main(["--fmea"]) == 0 and capsys.readouterr().out == DOC.read_text()


def test_every_row_names_tests_and_a_known_reaction():
    assert len({r.id for r in ROWS}) == len(ROWS)
    for row in ROWS:
        assert row.tests, f"{row.id} names no test"
        assert row.requires is None or row.requires in REQUIRES, row.id
        assert row.faults or row.other, f"{row.id}: no fault and no other reaction"


@cache
def _functions(path: str) -> dict[str, bool]:
    """Test functions of a file (top level and in classes) -> whether they are parametrized (parsed, not run)."""
    tree = ast.parse((ROOT / path).read_text())
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            out[node.name] = any("parametrize" in ast.unparse(d) for d in node.decorator_list)
    return out


def _split(node_id: str) -> tuple[str, str, str]:
    path, _, rest = node_id.partition("::")
    name, _, param = rest.rpartition("::")[2].partition("[")
    return path, name, param


def test_every_named_test_exists():
    for row in ROWS:
        for node_id in row.tests:
            path, name, param = _split(node_id)
            if not (ROOT / path).exists():
                pending = [f for f in row.faults if f not in Fault.__members__]
                assert path in PENDING_FILES, f"{row.id}: no file {path}"
                assert pending or not row.faults, f"{row.id}: {row.faults} exist, so must {path}"
                continue
            funcs = _functions(path)
            assert name in funcs, f"{row.id}: no {name} in {path}"
            assert not param or funcs[name], f"{row.id}: {name} is not parametrized ({node_id})"


def test_every_fault_of_the_policy_is_in_a_row():
    named = {f for row in ROWS for f in row.faults}
    assert set(IN_POLICY) <= named, f"faults without an FMEA row: {sorted(set(IN_POLICY) - named)}"
    assert {f.name for f in Fault if f} <= named


def test_the_policy_does_at_least_what_each_row_requires():
    for row in ROWS:
        if not row.faults or row.requires is None or row.faults[0] not in IN_POLICY:
            continue
        r = IN_POLICY[row.faults[0]]
        if row.requires in ("charge", "both"):
            assert r.blocks_charge, f"{row.id}: {r.fault.name} must block charging"
        if row.requires in ("discharge", "both"):
            assert r.blocks_discharge, f"{row.id}: {r.fault.name} must block discharging"
        if row.latch:
            assert r.always_latch, f"{row.id}: {r.fault.name} must always latch"


def _mutation(row: Row, mode: str) -> tuple[str, list[str]] | None:
    """(BMS_FMEA_MUTATION value, behavioural tests to run) for a row whose reaction POLICY carries, else None.
    noblock: the fault trips but opens nothing (rows that require a FET off); notrip: it never trips."""
    if not row.faults or row.requires is None or row.faults[0] not in IN_POLICY:
        return None
    if mode == "noblock" and row.requires == "none":
        return None
    tests = [t for t in row.tests if not t.startswith("test/tools/") and (ROOT / _split(t)[0]).exists()]
    return f"{mode}:{row.faults[0]}", tests


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["noblock", "notrip"])
@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_named_tests_fail_when_the_reaction_is_removed(row: Row, mode: str) -> None:
    m = _mutation(row, mode)
    if m is None:
        pytest.skip(
            "reaction not carried by a POLICY rule on this branch (time, state file, configuration, or a "
            "fault ISSUE 11 adds), or nothing to unblock (a reported-only fault)"
        )
    spec, tests = m
    assert tests, f"{row.id}: no behavioural test to run"
    env = {
        **os.environ,
        "BMS_FMEA_MUTATION": spec,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "test"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "fmea_mutation", *tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert f"[fmea_mutation] {spec.partition(':')[0]}" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.returncode == 1, f"{row.id}: no named test failed with {spec}\n{proc.stdout[-3000:]}"
