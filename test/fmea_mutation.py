"""pytest plugin for the FMEA mutation test (test/tools/test_fmea.py): takes a fault's reaction out of ``POLICY``
before any test module is imported, so the tests an FMEA row names can be shown to fail without it.

    BMS_FMEA_MUTATION=noblock:CELL_OVERVOLTAGE pytest -p fmea_mutation ...   # trips, but blocks nothing, never latches
    BMS_FMEA_MUTATION=notrip:CELL_IMBALANCE pytest -p fmea_mutation ...      # never beyond its threshold

Rules are frozen dataclasses: they are changed in place (every holder of POLICY sees the change), then the
module-level masks derived from POLICY are recomputed. Fails loudly when a named fault is not in POLICY or a
field it changes does not exist (the mutation must then follow the policy table's new shape).
"""

from __future__ import annotations

import os
import sys

ENV = "BMS_FMEA_MUTATION"
MODES = {
    "noblock": {"blocks_charge": False, "blocks_discharge": False, "always_latch": False},
    "notrip": {"direction": 0},
}  # sign 0: ``sign * (value - threshold) > 0`` is never true


def apply(spec: str) -> list[str]:
    mode, _, names = spec.partition(":")
    changes = MODES[mode]
    wanted = {n for n in names.split(",") if n}
    from bms_ros.core import protection

    done = []
    for rule in protection.POLICY:
        if rule.fault.name in wanted:
            for attr, value in changes.items():
                if not hasattr(rule, attr):
                    raise RuntimeError(f"{ENV}: Rule has no field {attr!r}; update test/fmea_mutation.py")
                object.__setattr__(rule, attr, value)
            done.append(rule.fault.name)
    if set(done) != wanted:
        raise RuntimeError(f"{ENV}: not in POLICY: {sorted(wanted - set(done))}")
    masks = {
        "BLOCKS_CHARGE": sum(int(r.fault) for r in protection.POLICY if r.blocks_charge),
        "BLOCKS_DISCHARGE": sum(int(r.fault) for r in protection.POLICY if r.blocks_discharge),
    }
    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("bms_ros"):
            for k, v in masks.items():
                if hasattr(mod, k):
                    setattr(mod, k, v)
    return done


def pytest_configure(config: object) -> None:
    spec = os.environ.get(ENV, "")
    if spec:
        done = apply(spec)
        print(f"[fmea_mutation] {spec.partition(':')[0]}: {', '.join(done)}")
