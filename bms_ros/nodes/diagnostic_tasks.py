"""The BMS's diagnostic tasks: AFE link, protection, cell voltages, temperatures, SoC/SoH, balancing, rate."""

from __future__ import annotations

import math

import numpy as np

from bms_ros.core import BmsOutput, fault_names, relevant_faults
from bms_ros.nodes.diagnostics import ERROR, OK, STALE, WARN, RateMonitor


def _fmt(x: float, unit: str = "", digits: int = 3) -> str:
    return "nan" if x is None or not math.isfinite(x) else f"{x:.{digits}f}{unit}"


class BmsDiagnostics:
    def __init__(self, node, updater, rate: RateMonitor, hardware_id: str):
        self.node = node
        self.updater = updater
        updater.setHardwareID(hardware_id)
        for name, fn in (
            ("AFE link", self.afe_link),
            ("Protection", self.protection),
            ("Cell voltages", self.cells),
            ("Temperatures", self.temperatures),
            ("State of charge and health", self.state_of_charge),
            ("Balancing", self.balancing),
            ("battery_state rate", self.rate),
        ):
            updater.add(name, fn)
        self._rate = rate

    @property
    def out(self) -> BmsOutput | None:
        return self.node.last_output

    def _no_data(self, stat) -> bool:
        if self.out is None:
            stat.summary(STALE, "no AFE sample yet")
            return True
        return False

    def afe_link(self, stat):
        if self._no_data(stat):
            return stat
        s = self.out.sample
        stat.add("I2C errors", str(s.read_errors))
        stat.add("Data held", str(self.out.data_held))
        stat.add("Data age (s)", _fmt(self.out.data_age))
        stat.add("CRC errors", str(s.crc_errors))
        stat.add("Command errors", str(self.node.command_errors))
        stat.add("AFE flags", str(int(s.afe_flags)))
        reason = self.node.afe.status_reason if self.node.afe is not None else ""
        if reason:
            stat.add("Reason", reason)
        counters = getattr(self.node.afe, "link_counters", None)
        if counters is not None:  # a smart pack: every rejected frame by reason (issue 17)
            for k, v in counters().items():
                stat.add(f"Link {k.replace('_', ' ')}", str(v))
            stat.add(
                "Pack FET commands",
                "accepted"
                if self.node.afe.accepts_fet_commands
                else f"refused ({self.node.afe.fet_refusal}); core FET decisions are reported only",
            )
            rep = s.pack_report if s.comm_ok else self.out.view.pack_report
            if rep is not None:
                stat.add("Pack protection", ", ".join(rep.protection) or "none")
                stat.add("Pack-reported SoC (%)", _fmt(rep.soc * 100, digits=1))
                stat.add("Pack-reported cycles", _fmt(rep.cycle_count, digits=0))
        if not self.out.data_fresh:
            stat.summary(
                ERROR, f"AFE lost: {reason}" if reason else "AFE lost: no valid sample within the stale timeout"
            )
        elif not s.comm_ok:
            stat.summary(WARN, "last AFE read failed: last valid values held")
        elif reason:
            stat.summary(WARN, reason)
        else:
            stat.summary(OK, "AFE link OK")
        return stat

    def protection(self, stat):
        if self._no_data(stat):
            return stat
        o = self.out
        active, latched = fault_names(o.faults_active), fault_names(o.faults_latched)
        stat.add("State", o.state.name)
        stat.add("Charge FET", "on" if o.view.charge_fet else "off")
        stat.add("Discharge FET", "on" if o.view.discharge_fet else "off")
        stat.add("Charge enable requested", str(o.charge_enable_requested))
        stat.add("Discharge enable requested", str(o.discharge_enable_requested))
        stat.add("Active faults", ", ".join(active) or "none")
        stat.add("Latched faults", ", ".join(latched) or "none")
        stat.add("Warnings", ", ".join(fault_names(o.warnings)) or "none")
        stat.add("Charge current limit (A)", _fmt(o.charge_current_limit, digits=2))
        stat.add("Discharge current limit (A)", _fmt(o.discharge_current_limit, digits=2))
        stat.add("Limit reason", o.limit_reason or "none")
        if o.lock_code:
            stat.add("System lock", f"locked (IEC 62619): inspect the pack, then call ~/unlock with code {o.lock_code}")
        wanted = bool(self.node.charger_contact()) or o.current_charging
        now = fault_names(relevant_faults(o.faults_active | o.faults_latched, wanted))
        if now:
            stat.summary(ERROR, "fault: " + ", ".join(now))
        elif active or latched:  # a charge-window fault with no charge wanted: charging blocked, pack usable
            stat.summary(WARN, "charging blocked (no charge wanted now): " + ", ".join(dict.fromkeys(active + latched)))
        elif o.warnings:
            stat.summary(WARN, "near a limit: " + ", ".join(fault_names(o.warnings)))
        else:
            stat.summary(OK, "no fault")
        return stat

    def cells(self, stat):
        if self._no_data(stat):
            return stat
        v = self.out.view.cell_voltages
        if self.out.data_held:
            stat.add("Held", "last valid values (this read failed)")
        for i, x in enumerate(v):
            stat.add(f"Cell {i + 1} (V)", _fmt(float(x)))
        if v.size and np.all(np.isfinite(v)):
            stat.add("Min (V)", _fmt(float(v.min())))
            stat.add("Max (V)", _fmt(float(v.max())))
            stat.add("Delta (mV)", _fmt(float(v.max() - v.min()) * 1000, digits=1))
            stat.summary(OK, f"{v.min():.3f}..{v.max():.3f} V")
        else:
            stat.summary(ERROR, "cell voltages unknown")
        return stat

    def temperatures(self, stat):
        if self._no_data(stat):
            return stat
        s = self.out.view
        for i, t in enumerate(s.temperatures):
            stat.add(f"Thermistor {i + 1} (degC)", _fmt(float(t), digits=1))
        stat.add("AFE die (degC)", _fmt(s.die_temperature, digits=1))
        t = s.temperatures[np.isfinite(s.temperatures)]
        if s.temperatures.size and t.size < s.temperatures.size:
            stat.summary(ERROR, "thermistor reading unknown")
        elif t.size:
            stat.summary(OK, f"{t.min():.1f}..{t.max():.1f} degC")
        else:
            stat.summary(WARN, "no thermistor configured")
        return stat

    def state_of_charge(self, stat):
        if self._no_data(stat):
            return stat
        e = self.out.estimate
        stat.add("SoC (%)", _fmt(e.soc * 100, digits=1))
        stat.add("SoC std (%)", _fmt(e.soc_std * 100, digits=2))
        stat.add("SoH (%)", _fmt(e.soh * 100, digits=1))
        stat.add("Capacity (Ah)", _fmt(e.capacity_ah))
        stat.add("Capacity std (Ah)", _fmt(e.capacity_std_ah))
        stat.add("Internal resistance (mohm)", _fmt(e.resistance_ohm * 1000, digits=1))
        stat.add("Polarisation resistance (mohm)", _fmt(e.polarisation_resistance_ohm * 1000, digits=1))
        stat.add("R0 scale (learned)", _fmt(e.resistance_scale, digits=3))
        stat.add("Polarisation scale (learned)", _fmt(e.polarisation_scale, digits=3))
        stat.add("Hysteresis state", _fmt(e.hysteresis_state, digits=2))
        stat.add("Energy remaining (Wh)", _fmt(e.energy_wh, digits=1))
        stat.add("Time to empty (s)", _fmt(e.time_to_empty_s, digits=0))
        stat.add("Time to full (s)", _fmt(e.time_to_full_s, digits=0))
        stat.add("Cycle count", _fmt(e.cycle_count, digits=2))
        if math.isnan(e.soc):
            stat.summary(WARN, "state of charge unknown")
        else:
            stat.summary(OK, f"SoC {e.soc * 100:.1f} %")
        return stat

    def balancing(self, stat):
        if self._no_data(stat):
            return stat
        mask = self.out.balancing_mask
        cells = [str(i + 1) for i in range(self.out.sample.cell_count) if mask >> i & 1]
        stat.add("Balancing cells", ", ".join(cells) or "none")
        stat.summary(OK, f"balancing {len(cells)} cell(s)" if cells else "not balancing")
        return stat

    def rate(self, stat):
        return self._rate.run(stat, self.node.now())
