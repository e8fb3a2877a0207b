"""Messages <-> core data for bms_aggregator: pack readings in, the robot's BatteryState and AggregateStatus out."""

from __future__ import annotations

import math

from sensor_msgs.msg import BatteryState

from bms_ros.core import Aggregate, EnergyUse, Level, LowBatteryState, PackReading, Throughput
from bms_ros.msg import AggregateStatus, BmsStatus


def _f(x: float) -> float:
    return float(x) if x is not None and math.isfinite(x) else math.nan


def reading_from_msgs(name: str, bs: BatteryState, status: BmsStatus | None) -> PackReading:
    """A pack as its battery_state says, with the fields only ~/status has where a fresh one is given."""
    r = PackReading(
        name,
        voltage=_f(bs.voltage),
        current=_f(bs.current),
        charge_ah=_f(bs.charge),
        capacity_ah=_f(bs.capacity),
        design_capacity_ah=_f(bs.design_capacity),
        percentage=_f(bs.percentage),
        temperature=_f(bs.temperature),
        status=int(bs.power_supply_status),
        health=int(bs.power_supply_health),
        present=bool(bs.present),
        serial_number=bs.serial_number,
    )
    if status is not None:
        r.soc_std, r.energy_wh = _f(status.soc_std), _f(status.energy_remaining_wh)
        r.resistance_ohm = _f(status.internal_resistance_ohm)
        r.charge_limit_a, r.discharge_limit_a = _f(status.charge_current_limit), _f(status.discharge_current_limit)
        r.charge_fet, r.discharge_fet = bool(status.charge_fet), bool(status.discharge_fet)
    return r


def fill_battery_state(msg: BatteryState, a: Aggregate, members: list[BatteryState], series: bool) -> BatteryState:
    """The robot's BatteryState: the one Nav2, docking and Open-RMF read in the robot's namespace."""
    msg.voltage, msg.current, msg.temperature = _f(a.voltage), _f(a.current), _f(a.temperature)
    msg.charge, msg.capacity, msg.design_capacity = _f(a.charge_ah), _f(a.capacity_ah), _f(a.design_capacity_ah)
    msg.percentage = _f(a.percentage)
    msg.power_supply_status, msg.power_supply_health = int(a.status), int(a.health)
    techs = {m.power_supply_technology for m in members}
    msg.power_supply_technology = techs.pop() if len(techs) == 1 else BatteryState.POWER_SUPPLY_TECHNOLOGY_UNKNOWN
    msg.present = bool(a.present)
    if series and a.present:  # the string's cells, in order; parallel groups have no single cell voltage
        msg.cell_voltage = [float(v) for m in members for v in m.cell_voltage]
        msg.cell_temperature = [float(v) for m in members for v in m.cell_temperature]
    msg.location = "+".join(m.location for m in members if m.location)
    msg.serial_number = ",".join(m.serial_number for m in members if m.serial_number)
    return msg


def fill_status(
    msg: AggregateStatus,
    topology: str,
    a: Aggregate,
    use: EnergyUse,
    window_s: float,
    low: LowBatteryState,
    packs: list[tuple[str, str, PackReading | None, Throughput, float]],
) -> AggregateStatus:
    """``packs``: (name, why it is out or '', last reading, lifetime throughput, design capacity Ah)."""
    msg.topology = topology
    msg.voltage, msg.current, msg.power = _f(a.voltage), _f(a.current), _f(-a.power_w)
    msg.percentage, msg.percentage_std = _f(a.percentage), _f(a.soc_std)
    msg.charge_ah, msg.capacity_ah = _f(a.charge_ah), _f(a.capacity_ah)
    msg.energy_remaining_wh, msg.energy_remaining_std_wh = _f(a.energy_wh), _f(a.energy_std_wh)
    msg.charge_current_limit, msg.discharge_current_limit = _f(a.charge_limit_a), _f(a.discharge_limit_a)
    msg.time_to_empty_s = _f(a.time_to_empty_s)
    msg.average_power, msg.average_power_window_s = _f(use.average_power_w), float(window_s)
    msg.idle_power, msg.drive_energy_per_metre = _f(use.idle_power_w), _f(use.drive_energy_j_per_m)
    msg.distance_m, msg.time_to_empty_at_pace_s = _f(use.distance_m), _f(use.time_to_empty_at_pace_s)
    msg.level = int(low.level)
    msg.low, msg.critical = low.level >= Level.LOW, low.level >= Level.CRITICAL
    msg.low_reason = low.reason
    msg.pack_names = [p[0] for p in packs]
    msg.pack_in_aggregate = [not p[1] for p in packs]
    msg.pack_out_reason = [p[1] for p in packs]
    msg.pack_serial_numbers = [p[2].serial_number if p[2] else "" for p in packs]
    msg.pack_percentage = [_f(p[2].percentage) if p[2] else math.nan for p in packs]
    msg.pack_current = [_f(p[2].current) if p[2] else math.nan for p in packs]
    msg.pack_energy_remaining_wh = [_f(p[2].energy()) if p[2] else math.nan for p in packs]
    msg.pack_energy_throughput_wh = [float(p[3].energy_wh) for p in packs]
    msg.pack_charge_throughput_ah = [float(p[3].charge_ah) for p in packs]
    msg.pack_equivalent_cycles = [_f(p[3].equivalent_cycles(p[4])) for p in packs]
    return msg
