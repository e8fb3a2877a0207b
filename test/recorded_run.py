"""A simulated field run recorded the way the node records it (AfeSample + the live BmsStatus decisions)."""

from __future__ import annotations

from pathlib import Path

import yaml

from bms_ros.afe.factory import make_pack_model
from bms_ros.afe.sim.simulated_afe import SimulatedAfe
from bms_ros.config import load_config
from bms_ros.core.bms import Bms
from bms_ros.core.types import PackSample

PARAMS = {
    "rate_hz": 10.0,
    "pack": {"cell_count": 4, "chemistry": "nmc", "design_capacity_ah": 2.0},
    "afe": {"type": "sim"},
    "sim": {"initial_soc": 0.9, "load_current": 3.0},
}


def write_config(path: Path) -> Path:
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": PARAMS}}))
    return path


def simulate(seconds: float = 150.0, t0: float = 1000.0):
    """Discharge, a 3 s AFE outage, then a charger that pushes too hard (4.4 V/cell): OV trips."""
    cfg = load_config({"pack.design_capacity_ah": 2.0, "sim.initial_soc": 0.9, "sim.load_current": 3.0})
    afe = SimulatedAfe(make_pack_model(cfg.pack, cfg.sim))
    bms = Bms(cfg)
    records = []
    for k in range(int(seconds * 10)):
        t = t0 + k / 10
        if k == 600:
            afe.pack.load_a = 0.0
            afe.pack.charger_connected, afe.pack.charger_current_a = True, 6.0
            afe.pack.cfg.charger_cv_per_cell = 4.4
        sample = afe.read(t)
        if 400 <= k < 430:
            sample = PackSample.missing(t, 4, 1)
        out = bms.step(sample)
        afe.apply(out)
        records.append((sample, out))
    return records
