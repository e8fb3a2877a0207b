"""Field values of the package's messages, computed without ROS.

The node fills rclpy messages from these; the bag tools build rosbags messages from the same dicts, and
read recorded AfeSample messages (either kind) back into PackSamples. One mapping, so a recorded run and a
live one cannot drift apart.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bms_ros.core.faults import fault_names
from bms_ros.core.types import AfeFlag, BmsOutput, PackReport, PackSample

_U32 = 0xFFFFFFFF


def _f(x: float | None) -> float:
    return float(x) if x is not None else math.nan


def afe_sample_fields(s: PackSample) -> dict[str, Any]:
    return {
        "sample_time": float(s.stamp),
        "cell_voltages": [float(v) for v in s.cell_voltages],
        "pack_voltage": _f(s.pack_voltage),
        "current": _f(s.current),
        "temperatures": [float(v) for v in s.temperatures],
        "die_temperature": _f(s.die_temperature),
        "afe_flags": int(s.afe_flags) & _U32,
        "charge_fet": bool(s.charge_fet),
        "discharge_fet": bool(s.discharge_fet),
        "balancing_mask": int(s.balancing_mask) & _U32,
        "comm_ok": bool(s.comm_ok),
        "read_errors": int(s.read_errors) & _U32,
        "crc_errors": int(s.crc_errors) & _U32,
        "load_present": bool(s.load_present),
    }


def sample_from_afe_msg(msg: Any) -> PackSample:
    """An AfeSample message (rclpy or rosbags) -> PackSample stamped with its recorded sample_time."""
    return PackSample(
        stamp=float(msg.sample_time),
        cell_voltages=np.asarray(msg.cell_voltages, dtype=float),
        pack_voltage=float(msg.pack_voltage),
        current=float(msg.current),
        temperatures=np.asarray(msg.temperatures, dtype=float),
        die_temperature=float(msg.die_temperature),
        afe_flags=AfeFlag(int(msg.afe_flags)),
        charge_fet=bool(msg.charge_fet),
        discharge_fet=bool(msg.discharge_fet),
        balancing_mask=int(msg.balancing_mask),
        comm_ok=bool(msg.comm_ok),
        read_errors=int(msg.read_errors),
        crc_errors=int(msg.crc_errors),
        load_present=bool(msg.load_present),
    )


def pack_report_fields(rep: PackReport | None) -> dict[str, Any]:
    """A smart pack's own view, beside ours (NaN / empty when the source reports nothing: every AFE)."""
    if rep is None:
        return {
            "pack_reported_soc": math.nan,
            "pack_remaining_capacity_ah": math.nan,
            "pack_full_capacity_ah": math.nan,
            "pack_cycle_count": math.nan,
            "pack_protection": [],
            "pack_fets_controllable": False,
        }
    return {
        "pack_reported_soc": _f(rep.soc),
        "pack_remaining_capacity_ah": _f(rep.remaining_ah),
        "pack_full_capacity_ah": _f(rep.full_capacity_ah),
        "pack_cycle_count": _f(rep.cycle_count),
        "pack_protection": list(rep.protection),
        "pack_fets_controllable": bool(rep.fets_controllable),
    }


def status_fields(out: BmsOutput) -> dict[str, Any]:
    s, e = out.view, out.estimate
    d: dict[str, Any] = {
        "state": int(out.state),
        "charge_fet": bool(s.charge_fet),
        "discharge_fet": bool(s.discharge_fet),
        "charge_fet_commanded": bool(out.charge_fet),
        "discharge_fet_commanded": bool(out.discharge_fet),
        "charge_enable_requested": bool(out.charge_enable_requested),
        "discharge_enable_requested": bool(out.discharge_enable_requested),
        "faults_active": int(out.faults_active) & _U32,
        "faults_latched": int(out.faults_latched) & _U32,
        "warnings": int(out.warnings) & _U32,
        "fault_names": fault_names(out.faults_active | out.faults_latched),
        "soc": _f(e.soc),
        "soc_std": _f(e.soc_std),
        "soh": _f(e.soh),
        "capacity_ah": _f(e.capacity_ah),
        "capacity_std_ah": _f(e.capacity_std_ah),
        "design_capacity_ah": _f(e.design_capacity_ah),
        "internal_resistance_ohm": _f(e.resistance_ohm),
        "polarisation_resistance_ohm": _f(e.polarisation_resistance_ohm),
        "resistance_scale": _f(e.resistance_scale),
        "polarisation_scale": _f(e.polarisation_scale),
        "hysteresis_state": _f(e.hysteresis_state),
        "energy_remaining_wh": _f(e.energy_wh),
        "time_to_empty_s": _f(e.time_to_empty_s),
        "time_to_full_s": _f(e.time_to_full_s),
        "cycle_count": _f(e.cycle_count),
        "charge_current_limit": _f(out.charge_current_limit),
        "discharge_current_limit": _f(out.discharge_current_limit),
        "limit_reason": out.limit_reason,
        "charge_voltage_limit": _f(out.charge_voltage_limit),
        "discharge_voltage_limit": _f(out.discharge_voltage_limit),
        "charge_voltage_reason": out.charge_voltage_reason,
        "charge_current_reason": out.charge_current_reason,
        "discharge_current_reason": out.discharge_current_reason,
        "force_charge": bool(out.force_charge),
        "heater_on": bool(out.heater_on),
        "heater_reason": out.heater_reason,
        "pack_voltage": _f(s.pack_voltage),
        "current": _f(s.current),
        "balancing_mask": int(out.balancing_mask) & _U32,
        "afe_read_errors": int(s.read_errors) & _U32,
        "afe_crc_errors": int(s.crc_errors) & _U32,
        "data_fresh": bool(out.data_fresh),
        "data_held": bool(out.data_held),
        "data_age": _f(out.data_age),
        "charge_complete": bool(out.charge_complete),
        "charger_contact": 0,  # CHARGER_UNKNOWN: the core does not see the contact (the node sets it)
        **pack_report_fields(s.pack_report),
    }
    cells = s.cell_voltages
    if cells.size and np.all(np.isfinite(cells)):
        i_min, i_max = int(np.argmin(cells)), int(np.argmax(cells))
        d.update(
            cell_voltage_min=float(cells[i_min]),
            cell_voltage_max=float(cells[i_max]),
            cell_voltage_delta=float(cells[i_max] - cells[i_min]),
            cell_index_min=i_min,
            cell_index_max=i_max,
        )
    else:
        d.update(
            cell_voltage_min=math.nan,
            cell_voltage_max=math.nan,
            cell_voltage_delta=math.nan,
            cell_index_min=0,
            cell_index_max=0,
        )
    temps = s.temperatures[np.isfinite(s.temperatures)]
    d["temperature_min"] = float(temps.min()) if temps.size else math.nan
    d["temperature_max"] = float(temps.max()) if temps.size else math.nan
    return d


def charge_limits_fields(out: BmsOutput) -> dict[str, Any]:
    """ChargeLimits (~/charge_limits): what a charger or dock controller obeys."""
    ccl, dcl = _f(out.charge_current_limit), _f(out.discharge_current_limit)
    return {
        "charge_voltage_limit": _f(out.charge_voltage_limit),
        "charge_current_limit": ccl,
        "discharge_current_limit": dcl,
        "discharge_voltage_limit": _f(out.discharge_voltage_limit),
        "charge_enable": ccl > 0.0,
        "discharge_enable": dcl > 0.0,
        "force_charge": bool(out.force_charge),
        "heater_on": bool(out.heater_on),
        "charge_voltage_reason": out.charge_voltage_reason,
        "charge_current_reason": out.charge_current_reason,
        "discharge_current_reason": out.discharge_current_reason,
        "heater_reason": out.heater_reason,
    }
