"""Conversions between core data and the package's messages (BmsStatus, AfeSample)."""
from __future__ import annotations

import math

import numpy as np

from bms_ros.core.faults import fault_names
from bms_ros.core.types import AfeFlag, BmsOutput, PackSample
from bms_ros.msg import AfeSample, BmsStatus

_U32 = 0xFFFFFFFF


def _f(x: float) -> float:
    return float(x) if x is not None else math.nan


def fill_status(msg: BmsStatus, out: BmsOutput) -> BmsStatus:
    s, e = out.sample, out.estimate
    msg.state = int(out.state)
    msg.charge_fet, msg.discharge_fet = bool(s.charge_fet), bool(s.discharge_fet)
    msg.charge_fet_commanded, msg.discharge_fet_commanded = bool(out.charge_fet), bool(out.discharge_fet)
    msg.charge_enable_requested = bool(out.charge_enable_requested)
    msg.discharge_enable_requested = bool(out.discharge_enable_requested)
    msg.faults_active = int(out.faults_active) & _U32
    msg.faults_latched = int(out.faults_latched) & _U32
    msg.warnings = int(out.warnings) & _U32
    msg.fault_names = fault_names(out.faults_active | out.faults_latched)
    msg.soc, msg.soc_std, msg.soh = _f(e.soc), _f(e.soc_std), _f(e.soh)
    msg.capacity_ah, msg.design_capacity_ah = _f(e.capacity_ah), _f(e.design_capacity_ah)
    msg.internal_resistance_ohm = _f(e.resistance_ohm)
    msg.energy_remaining_wh = _f(e.energy_wh)
    msg.time_to_empty_s, msg.time_to_full_s = _f(e.time_to_empty_s), _f(e.time_to_full_s)
    msg.cycle_count = _f(e.cycle_count)
    msg.charge_current_limit = _f(out.charge_current_limit)
    msg.discharge_current_limit = _f(out.discharge_current_limit)
    msg.limit_reason = out.limit_reason
    msg.pack_voltage, msg.current = _f(s.pack_voltage), _f(s.current)
    cells = s.cell_voltages
    if cells.size and np.all(np.isfinite(cells)):
        i_min, i_max = int(np.argmin(cells)), int(np.argmax(cells))
        msg.cell_voltage_min, msg.cell_voltage_max = float(cells[i_min]), float(cells[i_max])
        msg.cell_voltage_delta = float(cells[i_max] - cells[i_min])
        msg.cell_index_min, msg.cell_index_max = i_min, i_max
    else:
        msg.cell_voltage_min = msg.cell_voltage_max = msg.cell_voltage_delta = math.nan
        msg.cell_index_min = msg.cell_index_max = 0
    temps = s.temperatures[np.isfinite(s.temperatures)]
    msg.temperature_min = float(temps.min()) if temps.size else math.nan
    msg.temperature_max = float(temps.max()) if temps.size else math.nan
    msg.balancing_mask = int(out.balancing_mask) & _U32
    msg.afe_read_errors = int(s.read_errors) & _U32
    msg.afe_crc_errors = int(s.crc_errors) & _U32
    msg.data_fresh = bool(out.data_fresh)
    return msg


def sample_to_msg(msg: AfeSample, s: PackSample) -> AfeSample:
    msg.sample_time = float(s.stamp)
    msg.cell_voltages = [float(v) for v in s.cell_voltages]
    msg.pack_voltage = _f(s.pack_voltage)
    msg.current = _f(s.current)
    msg.temperatures = [float(v) for v in s.temperatures]
    msg.die_temperature = _f(s.die_temperature)
    msg.afe_flags = int(s.afe_flags) & _U32
    msg.charge_fet, msg.discharge_fet = bool(s.charge_fet), bool(s.discharge_fet)
    msg.balancing_mask = int(s.balancing_mask) & _U32
    msg.comm_ok = bool(s.comm_ok)
    msg.read_errors, msg.crc_errors = int(s.read_errors) & _U32, int(s.crc_errors) & _U32
    msg.load_present = bool(s.load_present)
    return msg


def msg_to_sample(msg) -> PackSample:
    """AfeSample (live or deserialised from a bag) -> PackSample, stamped with its recorded sample_time."""
    return PackSample(
        stamp=float(msg.sample_time),
        cell_voltages=np.asarray(msg.cell_voltages, dtype=float),
        pack_voltage=float(msg.pack_voltage), current=float(msg.current),
        temperatures=np.asarray(msg.temperatures, dtype=float), die_temperature=float(msg.die_temperature),
        afe_flags=AfeFlag(int(msg.afe_flags)), charge_fet=bool(msg.charge_fet),
        discharge_fet=bool(msg.discharge_fet), balancing_mask=int(msg.balancing_mask), comm_ok=bool(msg.comm_ok),
        read_errors=int(msg.read_errors), crc_errors=int(msg.crc_errors), load_present=bool(msg.load_present))
