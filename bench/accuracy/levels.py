"""Configuration levels: what the estimator is told about a cell.

L0: ``pack.chemistry`` (the built-in curve of the cell's chemistry) + the datasheet capacity.
L1: + the cell's own OCV curve (C/30 charge and discharge, averaged) as ``estimation.chemistry_table``.
L2: the table and capacity bms-identify fits on a different recording of the same cell (robot drive + dock
    charge with the bench's sensor errors, ``profiles.robot_recording``), never on a scored case.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bench.accuracy.profiles import robot_recording
from bench.accuracy.sensors import corrupt, write_replay_csv
from bench.accuracy.sim import RESULTS, charge_ah, limits, ocv_tests, true_capacity
from bench.accuracy.split import Cell

LEVELS = ("L0", "L1", "L2")
# The datasheet's capacity is 3-5 % off the cell's (issue 13), sign and size seeded by the cell's name.
DATASHEET_ERROR_RANGE = (0.03, 0.05)


def datasheet_capacity(cell: Cell) -> float:
    rng = np.random.default_rng(int(hashlib.sha1(cell.name.encode()).hexdigest()[:8], 16))
    err = rng.uniform(*DATASHEET_ERROR_RANGE) * (1.0 if rng.random() < 0.5 else -1.0)
    return true_capacity(cell) * (1.0 + err)


def ocv_table(cell: Cell) -> Path:
    """L1: the cell's C/30 discharge and charge curves, averaged, on SoC from the true capacity."""
    import yaml

    vmin, vmax = limits(cell)
    dis, chg = ocv_tests(cell)
    cap = true_capacity(cell)
    soc_d = dis["soc"][0] + charge_ah(dis) / cap
    soc_c = chg["soc"][0] + charge_ah(chg) / cap
    grid = np.linspace(0.0, 1.0, 101)
    ocv = 0.5 * (np.interp(grid, soc_d[::-1], dis["v"][::-1]) + np.interp(grid, soc_c, chg["v"]))
    ocv[0], ocv[-1] = vmin, vmax
    ocv = np.maximum.accumulate(ocv + np.arange(ocv.size) * 1e-5)  # strictly increasing
    table = {
        "name": f"{cell.name}-c30",
        "full_v": vmax,
        "empty_v": vmin,
        "ocv": {"soc": grid.round(4).tolist(), "voltage": ocv.round(5).tolist()},
    }
    path = RESULTS / f"{cell.name}_L1_ocv.yaml"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text("# the cell's C/30 OCV curve (bench level L1)\n" + yaml.safe_dump(table, sort_keys=False))
    return path


def identified_table(cell: Cell, seed: int) -> tuple[Path, float]:
    """L2: bms-identify on the robot recording (replay CSV with sensor errors); (table, capacity Ah)."""
    from bms_ros.tools.identify import identify_files

    vmin, vmax = limits(cell)
    rec = corrupt(robot_recording(cell, true_capacity(cell)), seed)
    RESULTS.mkdir(parents=True, exist_ok=True)
    csv_path = write_replay_csv(rec, RESULTS / f"{cell.name}_robot_recording.csv")
    table = RESULTS / f"{cell.name}_L2_identified.csv"
    fit = identify_files(
        [str(csv_path)],
        chemistry=cell.chemistry,
        full_v=vmax,
        empty_v=vmin,
        table_path=table,
        report_path=RESULTS / f"{cell.name}_L2_identified.html",
    )
    return table, fit.capacity_ah


def configure(cell: Cell, level: str, seed: int) -> dict[str, object]:
    """The node parameters a team would set at ``level`` (single-cell pack)."""
    values: dict[str, object] = {
        "pack.cell_count": 1,
        "pack.chemistry": cell.chemistry,
        "pack.design_capacity_ah": round(datasheet_capacity(cell), 4),
        "protection.allow_outside_envelope": True,  # the default current trips of a small cell: not scored
    }
    if level == "L1":
        values["estimation.chemistry_table"] = str(ocv_table(cell))
    elif level == "L2":
        table, cap = identified_table(cell, seed)
        values.update({"estimation.chemistry_table": str(table), "pack.design_capacity_ah": round(cap, 4)})
    elif level != "L0":
        raise ValueError(f"unknown level {level!r}; {LEVELS}")
    return values
