"""Golden outputs: what ``Bms.step`` decides and estimates on fixed streams, recorded from the code before the
ISSUE 12 refactor, so a restructuring can be shown to change nothing.

    ./dev py test/golden_streams.py --write     # re-record (only for an intended behaviour change; say why)

Decisions are compared exactly at every sample (stored as the samples where they change); estimates and limits every
25th sample, rounded to 1e-9 (platform-independent at that precision).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "bench"))

DATA = HERE / "data" / "golden_outputs.json"
ESTIMATE_EVERY = 25
DIGITS = 9


def _streams() -> dict[str, tuple[dict[str, Any], list]]:
    from drive_streams import drive_rest_charge
    from workloads import config_values, drive_samples

    from recorded_run import simulate

    rec = [s for s, _ in simulate()]
    return {
        "nmc4_drive_rest_charge": (
            {"pack.cell_count": 4, "pack.design_capacity_ah": 10.0},
            drive_rest_charge("nmc", 4),
        ),
        "lfp16_drive_rest_charge": (
            {"pack.cell_count": 16, "pack.chemistry": "lfp", "pack.design_capacity_ah": 10.0},
            drive_rest_charge("lfp", 16),
        ),
        "nmc16_workload_with_sensor_faults": (config_values(16), drive_samples(16, 3000)),
        "nmc4_outage_and_overcharge": ({"pack.design_capacity_ah": 2.0}, rec),
    }


def _r(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), DIGITS)


def run(values: dict[str, Any], samples: list) -> dict[str, Any]:
    import logging

    from bms_ros.config import load_config
    from bms_ros.core.bms import Bms

    logging.disable(logging.CRITICAL)
    try:
        bms = Bms(load_config(values))
        changes, estimates, last = [], [], None
        for k, s in enumerate(samples):
            o = bms.step(s)
            d = [
                o.state.name,
                o.charge_fet,
                o.discharge_fet,
                o.faults_active,
                o.faults_latched,
                o.warnings,
                o.balancing_mask,
                o.current_charging,
                o.charge_complete,
                o.data_fresh,
                o.heater_on,
            ]
            if d != last:
                changes.append([k, *d])
                last = d
            if k % ESTIMATE_EVERY == 0:
                e = o.estimate
                estimates.append(
                    [
                        k,
                        _r(e.soc),
                        _r(e.soc_std),
                        _r(e.capacity_ah),
                        _r(e.current_offset_a),
                        _r(o.charge_current_limit),
                        _r(o.discharge_current_limit),
                        _r(o.charge_voltage_limit),
                    ]
                )
        return {"samples": len(samples), "decision_changes": changes, "estimates": estimates}
    finally:
        logging.disable(logging.NOTSET)


def record() -> dict[str, Any]:
    return {name: run(values, samples) for name, (values, samples) in _streams().items()}


if __name__ == "__main__":
    if "--write" in sys.argv:
        DATA.parent.mkdir(exist_ok=True)
        DATA.write_text(json.dumps(record(), separators=(",", ":")) + "\n")
        print(f"wrote {DATA} ({DATA.stat().st_size} bytes)")
