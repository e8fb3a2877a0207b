"""Benchmark: a fault campaign on the closed loop core + real bq769x0 driver + register-level chip + pack model.

Why: unit tests show each protection on its own; this shows what the pack *truly* goes through when the
measurement chain misbehaves (bus NACK / timeout / CRC at rising rates, stuck and open-wire cells, lost
thermistors, shorts, clock jumps) while a hazard develops. Per scenario it reports

* **unsafe-s**: simulated seconds with the charge FET the chip really has on while a true cell is above the
  hard over-voltage threshold or the true temperature is outside the charge window, or the discharge FET on
  while a true cell is below the deep under-voltage threshold (thresholds from the resolved config);
* **detect-s**: from the moment the hazard begins (truth) to the first fault bit of the scenario's relevant
  faults, and which fault that was;
* **recovery**: after the condition is removed (and a supervising host asks for a fault reset every
  ``RESET_EVERY_S``), when both real FETs are on again, or what still blocks them.

Everything runs in simulated time from the sample stamps (no wall clock) with seeded generators: the same
command prints the same table. ``--samples N`` runs N seeds per scenario (worst case reported).

Run: ./dev py bench/bench_fault_campaign.py [--quick] [--samples N] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# measure the code of the checkout this file is in, not whichever checkout the shared venv has installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bms_ros.afe.base import AfeError
from bms_ros.afe.factory import apply_sim_faults, make_pack_model
from bms_ros.afe.sim.simulated_bq769x0 import SimulatedBq769x0
from bms_ros.config import load_config
from bms_ros.core.bms import Bms
from bms_ros.core.faults import Fault, fault_names
from bms_ros.core.hardware_protection import hardware_protection
from bms_ros.core.types import BmsOutput

DT_S = 0.1  # s, read period: the node's 10 Hz (bench_node_overhead.py)
SLOW_DT_S = 1.0  # s, read period of the hour-long internal-short runs (the estimator's 1 Hz tests)
RESET_EVERY_S = 5.0  # s, a supervisor's ~/reset_faults period once the condition is removed (assumption)
RATES = (0.0, 0.01, 0.05, 0.10, 0.25, 0.50)  # ISSUE 11 item 8
QUICK_RATES = (0.0, 0.05, 0.50)
BROKEN_CHARGER_CV = 4.45  # V/cell: a charger set too high, only the BMS can stop it (test_closed_loop.py)
CHARGE_A = 10.0  # A, 1C on the default 10 Ah pack
DISCHARGE_A = 10.0  # A, 1C
HOT_C, COLD_C = 50.0, -5.0  # degC: beyond the default charge window (0..45 degC)
SHORT_A = 500.0  # A, the pack model's default hard short
TOP_CELL_AHEAD = 0.15  # SoC the top cell is ahead of the others in the stuck / open-wire runs: at 1C it
# crosses the hard OV limit minutes before the others reach OV
RECOVERED_SOC = 0.6  # SoC the cells are set to when an OV/UV condition is removed (well inside limits)
OPEN_WIRE_PHASE_S = 0.5  # s per phase of the intermittent open wire: open-low, ok, open-high, ok

# faults that count as detecting a hazard (names: some arrive with ISSUE 11; absent ones are ignored)
OV_FAULTS = ("CELL_OVERVOLTAGE", "CELL_OVERVOLTAGE_HARD", "PACK_OVERVOLTAGE", "AFE_HW_OVERVOLTAGE", "SYSTEM_LOCK")
UV_FAULTS = ("CELL_UNDERVOLTAGE", "CELL_UNDERVOLTAGE_DEEP", "PACK_UNDERVOLTAGE", "AFE_HW_UNDERVOLTAGE", "SYSTEM_LOCK")
MEAS_FAULTS = ("IMPLAUSIBLE_DATA", "OPEN_WIRE", "CELL_READING_STUCK")
TEMP_FAULTS = (
    "SENSOR_LOSS",
    "CHARGE_OVERTEMPERATURE",
    "CHARGE_UNDERTEMPERATURE",
    "DISCHARGE_OVERTEMPERATURE",
    "DISCHARGE_UNDERTEMPERATURE",
    "SYSTEM_LOCK",
)
SHORT_FAULTS = ("SHORT_CIRCUIT", "AFE_HW_OVERCURRENT", "DISCHARGE_OVERCURRENT")
ISC_FAULTS = ("INTERNAL_SHORT", "CELL_IMBALANCE", "CELL_UNDERVOLTAGE")


def mask(names: tuple[str, ...]) -> int:
    """Fault bits of the names that exist on this code (guarded: ISSUE 11 adds some)."""
    return sum(int(f) for f in (getattr(Fault, n, None) for n in names) if f is not None)


class Rig:
    """One closed loop: afe.read(t) -> Bms.step -> afe.apply, with a clock offset for the sample stamps."""

    def __init__(self, values: dict, seed: int):
        self.cfg = load_config({"afe.type": "sim_bq769x0", "sim.seed": seed, **values})
        self.pack = make_pack_model(self.cfg.pack, self.cfg.sim)
        self.afe = SimulatedBq769x0.from_config(self.pack, self.cfg.afe, sim_kwargs={"seed": seed})
        self.afe.configure_protection(hardware_protection(self.cfg))  # before the bus faults: set up once
        apply_sim_faults(self.afe, self.cfg.sim.fault)
        self.bms = Bms(self.cfg)
        self.bms.balancing_constraints = self.afe.balancing_constraints
        self.t = 0.0
        self.stamp_offset = 0.0  # s added to the sample stamps (clock jumps)
        self.command_errors = 0
        p = self.cfg.protection
        self.v_hard, self.v_deep = p.cell_overvoltage_hard.threshold, p.cell_undervoltage_deep.threshold
        self.t_lo, self.t_hi = p.charge_undertemperature.threshold, p.charge_overtemperature.threshold
        self.out: BmsOutput | None = None

    def step(self, dt: float) -> BmsOutput:
        self.t = round(self.t + dt, 6)
        s = self.afe.read(self.t)
        if self.stamp_offset:
            s = dataclasses.replace(s, stamp=s.stamp + self.stamp_offset)
        self.out = self.bms.step(s)
        try:  # as bms_node._command: a failed write is counted, not fatal
            self.afe.apply(self.out)
        except (AfeError, ValueError):
            self.command_errors += 1
        return self.out

    def unsafe(self) -> bool:
        v, temp = self.pack.cell_voltages(), self.pack.temperature_c
        chg = self.pack.charge_fet and (v.max() > self.v_hard or not self.t_lo <= temp <= self.t_hi)
        return bool(chg or (self.pack.discharge_fet and v.min() < self.v_deep))


@dataclass
class Scenario:
    name: str
    values: dict  # config values (sim.*, protection.*)
    relevant: tuple[str, ...]  # faults that count as detecting the hazard
    begun: Callable[[Rig], bool]  # the hazard has begun (truth)
    t_inject: float = 5.0  # s: inject() runs here (after a healthy start)
    t_remove: float = 90.0  # s: remove() runs here
    t_end: float = 130.0  # s
    dt: float = DT_S
    inject: Callable[[Rig], None] = lambda rig: None
    during: Callable[[Rig], None] | None = None  # every step between inject and remove
    remove: Callable[[Rig], None] = lambda rig: None
    setup: Callable[[Rig], None] = lambda rig: None


@dataclass
class Result:
    unsafe_s: float = 0.0
    detect_s: float = math.nan
    detected_by: str = ""
    recovery_s: float = math.nan
    blocked_by: str = ""
    command_errors: int = 0
    extra: dict = field(default_factory=dict)


def run(sc: Scenario, seed: int) -> Result:
    rig = Rig(sc.values, seed)
    sc.setup(rig)
    res, rel = Result(), mask(sc.relevant)
    t_begin = t_removed = math.nan
    last_reset = -math.inf
    for _ in range(round(sc.t_end / sc.dt)):
        t = rig.t + sc.dt
        if abs(t - sc.t_inject) < sc.dt / 2:
            sc.inject(rig)
        if abs(t - sc.t_remove) < sc.dt / 2:
            if rig.pack.charge_fet and rig.pack.discharge_fet:
                res.extra["on_at_removal"] = True
            sc.remove(rig)
            t_removed = t
        if sc.during is not None and sc.t_inject <= t < sc.t_remove:
            sc.during(rig)
        out = rig.step(sc.dt)
        if rig.unsafe():
            res.unsafe_s += sc.dt
        if math.isnan(t_begin) and t >= sc.t_inject and sc.begun(rig):
            t_begin = rig.t
        bits = (out.faults_active | out.faults_latched) & rel
        if not math.isnan(t_begin) and math.isnan(res.detect_s) and bits:
            res.detect_s = rig.t - t_begin
            res.detected_by = Fault(bits & -bits).name or ""
        if not math.isnan(t_removed):
            if math.isnan(res.recovery_s) and rig.pack.charge_fet and rig.pack.discharge_fet:
                res.recovery_s = rig.t - t_removed
            if out.faults_latched and rig.t - last_reset >= RESET_EVERY_S:
                rig.bms.reset_faults(rig.stamp_offset + rig.t)
                last_reset = rig.t
    if math.isnan(t_removed):
        res.blocked_by = "n/a"
    elif math.isnan(res.recovery_s):
        o = rig.out
        latched, active = fault_names(o.faults_latched), fault_names(o.faults_active)
        res.blocked_by = ("latched " + ",".join(latched)) if latched else ",".join(active) or o.limit_reason
    if math.isnan(t_begin):
        res.detected_by = "hazard never began"
    res.command_errors = rig.command_errors
    return res


# ---- scenario builders -----------------------------------------------------------------------------------------


def over_charge(rig: Rig) -> bool:
    return bool(rig.pack.cell_voltages().max() > rig.cfg.protection.cell_overvoltage.threshold)


def under_discharge(rig: Rig) -> bool:
    return bool(rig.pack.cell_voltages().min() < rig.cfg.protection.cell_undervoltage.threshold)


def set_soc(rig: Rig, soc: float) -> None:
    """Remove an OV/UV condition at once (as if the pack had been brought back by another path)."""
    rig.pack.soc[:] = soc
    rig.pack.soc_excess[:] = 0.0
    rig.pack.v_rc[:] = 0.0


def charging(values: dict | None = None, soc: float = 0.97) -> dict:
    return {
        "sim.initial_soc": soc,
        "sim.charger_connected": True,
        "sim.charger_current": CHARGE_A,
        "sim.charger_cell_voltage": BROKEN_CHARGER_CV,
        "sim.load_current": 0.0,
        **(values or {}),
    }


def discharging(values: dict | None = None, soc: float = 0.0) -> dict:
    return {"sim.initial_soc": soc, "sim.load_current": DISCHARGE_A, **(values or {})}


def stop_charging(rig: Rig) -> None:
    rig.pack.charger_connected = False
    set_soc(rig, RECOVERED_SOC)


def stop_discharging(rig: Rig) -> None:
    rig.pack.load_a = 0.0
    set_soc(rig, RECOVERED_SOC)


def clear_bus(rig: Rig) -> None:
    f = rig.afe.faults
    f.nack_rate = f.timeout_rate = f.crc_corrupt_rate = 0.0


def bus(kind: str, rate: float, hazard: str) -> Scenario:
    key = {"nack": "sim.fault.nack_rate", "timeout": "sim.fault.timeout_rate", "crc": "sim.fault.crc_corrupt_rate"}
    if hazard == "OV":

        def remove(rig: Rig) -> None:
            clear_bus(rig)
            stop_charging(rig)

        return Scenario(
            f"{kind} {rate:.0%} / OV charge",
            charging({key[kind]: rate}),
            OV_FAULTS,
            over_charge,
            t_inject=0.0,
            remove=remove,
        )

    def remove_uv(rig: Rig) -> None:
        clear_bus(rig)
        stop_discharging(rig)

    return Scenario(
        f"{kind} {rate:.0%} / UV discharge",
        discharging({key[kind]: rate}),
        UV_FAULTS,
        under_discharge,
        t_inject=0.0,
        remove=remove_uv,
    )


def raise_top_cell(rig: Rig) -> None:
    """The top cell ahead of the others: it is the one driven beyond OV."""
    rig.pack.soc[-1] = min(1.0, rig.pack.soc[-1] + TOP_CELL_AHEAD)


def stuck() -> Scenario:
    def inject(rig: Rig) -> None:  # the top cell's reading freezes at its value at rest, then charging starts
        n = rig.pack.cell_count - 1
        rig.afe.faults.stuck_cell(n, float(rig.pack.cell_voltages()[n]))
        rig.pack.charger_connected = True

    def remove(rig: Rig) -> None:
        rig.afe.faults.clear_measurement_faults()
        stop_charging(rig)

    return Scenario(
        "stuck top cell / OV charge",
        charging({"sim.charger_connected": False}, soc=0.85),
        OV_FAULTS + MEAS_FAULTS,
        over_charge,
        setup=raise_top_cell,
        inject=inject,
        remove=remove,
        t_inject=2.0,
        t_end=340.0,
        t_remove=300.0,
    )


def open_wire() -> Scenario:
    def during(rig: Rig) -> None:  # top cell: reads ~0 V, ok, full scale, ok, ... (intermittent contact)
        n = rig.pack.cell_count
        phase = round(rig.t / OPEN_WIRE_PHASE_S) % 4
        rig.afe.faults.open_wires.clear()
        if phase == 0:
            rig.afe.faults.open_wire(n - 1)  # open top wire: the top cell reads ~0
        elif phase == 2:
            rig.afe.faults.open_wire(n - 2)  # open wire below it: the top cell reads both (full scale)

    def remove(rig: Rig) -> None:
        rig.afe.faults.clear_measurement_faults()
        stop_charging(rig)

    def inject(rig: Rig) -> None:
        rig.pack.charger_connected = True

    return Scenario(
        "open wire top cell / OV charge",
        charging({"sim.charger_connected": False}, soc=0.85),
        OV_FAULTS + MEAS_FAULTS,
        over_charge,
        setup=raise_top_cell,
        during=during,
        inject=inject,
        remove=remove,
        t_inject=2.0,
        t_end=340.0,
        t_remove=300.0,
    )


def thermistor(state: str, hot: bool) -> Scenario:
    temp = HOT_C if hot else COLD_C

    def inject(rig: Rig) -> None:
        (rig.afe.faults.thermistor_open if state == "open" else rig.afe.faults.thermistor_short)(0)
        rig.pack.temperature_c = rig.pack.ambient_c = temp

    def remove(rig: Rig) -> None:
        rig.afe.faults.clear_measurement_faults()
        rig.pack.temperature_c = rig.pack.ambient_c = 25.0

    return Scenario(
        f"thermistor {state} / {'hot' if hot else 'cold'} charge",
        charging({"sim.charger_cell_voltage": 0.0, "sim.charger_current": 5.0}, soc=0.5),
        TEMP_FAULTS,
        lambda rig: not rig.t_lo <= rig.pack.temperature_c <= rig.t_hi,
        inject=inject,
        remove=remove,
        t_remove=60.0,
        t_end=100.0,
    )


def external_short() -> Scenario:
    def inject(rig: Rig) -> None:
        rig.afe.faults.external_short(True, current_a=SHORT_A)

    def remove(rig: Rig) -> None:  # short cleared and the load disconnected (LOAD_PRESENT must clear)
        rig.afe.faults.external_short(False)
        rig.pack.load_a = 0.0

    return Scenario(
        "external short",
        {"sim.initial_soc": 0.7, "sim.load_current": 5.0},
        SHORT_FAULTS,
        lambda rig: rig.pack.external_short,
        inject=inject,
        remove=remove,
        t_remove=20.0,
        t_end=60.0,
    )


def internal_short(ohm: float, minutes: float) -> Scenario:
    def inject(rig: Rig) -> None:
        rig.afe.faults.soft_internal_short(1, ohm)

    end = minutes * 60.0
    return Scenario(
        f"soft internal short {ohm:g} ohm ({minutes:g} min)",
        {"sim.initial_soc": 0.6, "sim.load_current": 0.0},
        ISC_FAULTS,
        lambda rig: True,
        inject=inject,
        dt=SLOW_DT_S,
        t_inject=10.0,
        t_remove=end + 10.0,
        t_end=end,
    )


def clock_jump(seconds: float) -> Scenario:
    """The sample clock steps by ``seconds`` while the over-voltage trip delay runs (first warning)."""

    def during(rig: Rig) -> None:
        o = rig.out
        if o is not None and not rig.stamp_offset and o.warnings & Fault.CELL_OVERVOLTAGE:
            rig.stamp_offset = seconds

    def remove(rig: Rig) -> None:
        stop_charging(rig)

    sign = "back" if seconds < 0 else "forward"
    return Scenario(
        f"clock jump {sign} {abs(seconds):g} s / OV charge",
        charging(),
        OV_FAULTS,
        over_charge,
        t_inject=0.0,
        during=during,
        remove=remove,
    )


def scenarios(quick: bool) -> list[Scenario]:
    rates = QUICK_RATES if quick else RATES
    out: list[Scenario] = []
    for hazard in ("OV", "UV"):
        out.append(bus("nack", 0.0, hazard))
        for kind in ("nack", "timeout", "crc"):
            out.extend(bus(kind, r, hazard) for r in rates if r)
    out += [stuck(), open_wire()]
    out += [thermistor(s, h) for s in ("open", "short") for h in (True, False)]
    out += [
        external_short(),
        internal_short(10.0, 20.0 if quick else 60.0),
        internal_short(1.0, 20.0 if quick else 60.0),
        clock_jump(-1000.0),
        clock_jump(3600.0),
    ]
    for sc in out:
        if sc.name.startswith("nack 0%"):
            sc.name = sc.name.replace("nack 0%", "bus 0%")
    return out


def fmt_s(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1f}"


def row(sc: Scenario, results: list[Result]) -> str:
    """Worst case over the seeds: most unsafe time, latest detection, latest (or no) recovery."""
    unsafe = max(r.unsafe_s for r in results)
    det = [r for r in results if not math.isnan(r.detect_s)]
    worst = max(det, key=lambda r: r.detect_s) if det else None
    detect = f"{worst.detect_s:.1f} ({worst.detected_by})" if worst else ""
    if len(det) < len(results):
        missed = next(r for r in results if math.isnan(r.detect_s))
        detect = (
            f"not detected in {len(results) - len(det)}/{len(results)}"
            + (f" ({missed.detected_by})" if missed.detected_by else "")
            + (f"; else {detect}" if detect else "")
        )
    rec = [r for r in results if not math.isnan(r.recovery_s)]
    if all(r.extra.get("on_at_removal") for r in results):
        recovery = "never off"
    elif len(rec) == len(results):
        recovery = f"{max(r.recovery_s for r in rec):.1f}"
    else:
        why = next(r.blocked_by for r in results if math.isnan(r.recovery_s))
        recovery = why if why == "n/a" else "no: " + why
    errs = max(r.command_errors for r in results)
    return f"| {sc.name} | {unsafe:.1f} | {detect} | {recovery} | {errs} |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer rates, shorter internal-short runs, one seed")
    ap.add_argument("--samples", type=int, default=None, help="seeds per scenario (default 3, quick 1)")
    ap.add_argument("--only", default="", help="run the scenarios whose name contains this")
    args = ap.parse_args()
    n = args.samples or (1 if args.quick else 3)
    print("| scenario | unsafe-s | detect-s (fault) | recovery-s | failed FET writes |")
    print("|---|---|---|---|---|")
    t0 = time.process_time()
    for sc in scenarios(args.quick):
        if args.only and args.only not in sc.name:
            continue
        print(row(sc, [run(sc, seed) for seed in range(1, n + 1)]), flush=True)
    print(f"\n{n} seed(s) per scenario, {time.process_time() - t0:.0f} s CPU")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
