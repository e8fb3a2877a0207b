"""The robot's battery from N packs: physically correct sums for parallel or series packs (no ROS).

ros2_controllers' battery_state_broadcaster averages voltage and current, takes the unweighted mean of the
percentages and the highest status/health *number*, so FULL (4) outranks CHARGING (1) and COLD (6) outranks
OVERHEAT (2). Here the rules follow the circuit:

- parallel: the packs share one bus. Current and charge/capacity/energy are summed, the voltage is the bus
  voltage (mean of the packs connected to it), percentage = remaining charge / capacity (capacity weighted:
  sum of SoC x capacity over the summed capacity).
  The allowed current of the bus is split over the packs by their conductance (1/R), and the bus reaches
  its limit when the first pack reaches its own.
- series: one current flows through every pack. Voltage is summed, the string empties when its weakest pack
  (least remaining charge) does, so percentage, charge and capacity are that pack's; the allowed current is
  the smallest of the packs'.

Status and health are combined by the explicit orders ``STATUS_PRECEDENCE`` and ``HEALTH_SEVERITY``, never
by enum value. Units SI; current > 0 charging; NaN unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

NAN = math.nan


class Status(IntEnum):
    """sensor_msgs/BatteryState power_supply_status values."""

    UNKNOWN = 0
    CHARGING = 1
    DISCHARGING = 2
    NOT_CHARGING = 3
    FULL = 4


class Health(IntEnum):
    """sensor_msgs/BatteryState power_supply_health values."""

    UNKNOWN = 0
    GOOD = 1
    OVERHEAT = 2
    DEAD = 3
    OVERVOLTAGE = 4
    UNSPEC_FAILURE = 5
    COLD = 6
    WATCHDOG_TIMER_EXPIRE = 7
    SAFETY_TIMER_EXPIRE = 8


# First wins. A draining pack means energy leaves the robot's store, so the robot is not "charging" (Nav2
# IsBatteryCharging) while any pack discharges (one parallel pack recharging another off the dock). Any pack
# still taking charge keeps the robot CHARGING: one FULL pack must not end a dock charge. NOT_CHARGING (charger
# present, a pack not accepting charge) outranks FULL: the robot is FULL only when every pack is. UNKNOWN
# (a pack that lost its AFE) is last, so the packs that know say what the robot does; all UNKNOWN -> UNKNOWN.
STATUS_PRECEDENCE: tuple[Status, ...] = (
    Status.DISCHARGING,
    Status.CHARGING,
    Status.NOT_CHARGING,
    Status.FULL,
    Status.UNKNOWN,
)

# Worst first, by what the robot must do about it:
#   OVERHEAT        thermal-runaway risk: stop the load and charging now (panther_manager shuts down on it)
#   OVERVOLTAGE     over-charge, lithium plating and heat: stop charging now
#   DEAD            a cell below its deep-discharge limit: the pack must not be charged normally or used
#   UNSPEC_FAILURE  a fault the BMS has no specific health for (short circuit, sensor loss, ...)
#   SAFETY_TIMER_EXPIRE, WATCHDOG_TIMER_EXPIRE: the charger or the BMS gave up; service needed
#   COLD            charging blocked or power reduced until the pack warms; recovers by itself
#   UNKNOWN         not known: never reported as GOOD
#   GOOD
HEALTH_SEVERITY: tuple[Health, ...] = (
    Health.OVERHEAT,
    Health.OVERVOLTAGE,
    Health.DEAD,
    Health.UNSPEC_FAILURE,
    Health.SAFETY_TIMER_EXPIRE,
    Health.WATCHDOG_TIMER_EXPIRE,
    Health.COLD,
    Health.UNKNOWN,
    Health.GOOD,
)

TOPOLOGIES = ("parallel", "series")


@dataclass
class PackReading:
    """What one pack last said: its battery_state plus (where received) its ~/status. NaN when unknown."""

    name: str
    voltage: float = NAN  # V, at the pack's terminals
    current: float = NAN  # A, > 0 charging
    charge_ah: float = NAN
    capacity_ah: float = NAN
    design_capacity_ah: float = NAN
    percentage: float = NAN  # 0..1
    temperature: float = NAN  # degC, hottest sensor
    status: int = Status.UNKNOWN
    health: int = Health.UNKNOWN
    present: bool = True
    soc_std: float = NAN  # 1-sigma of percentage (from ~/status)
    energy_wh: float = NAN  # energy remaining (from ~/status)
    resistance_ohm: float = NAN
    charge_limit_a: float = NAN  # >= 0
    discharge_limit_a: float = NAN  # >= 0, magnitude
    charge_fet: bool = True  # FETs as read back (from ~/status; True when not known)
    discharge_fet: bool = True
    serial_number: str = ""

    def charge(self) -> float:
        """Remaining usable charge (a BMS may end it early under load), else percentage x capacity."""
        if math.isfinite(self.charge_ah):
            return self.charge_ah
        return self.stored()

    def stored(self) -> float:
        """SoC x capacity: the charge the percentage stands for, else the usable charge."""
        q = self.percentage * self.capacity_ah
        return q if math.isfinite(q) else self.charge_ah

    def mean_voltage(self) -> float:
        """Mean voltage over the remaining charge (energy / charge), else the terminal voltage."""
        q = self.charge()
        if math.isfinite(self.energy_wh) and q > 1e-6:
            return self.energy_wh / q
        return self.voltage

    def energy(self) -> float:
        e = self.energy_wh
        return e if math.isfinite(e) else self.charge() * self.voltage


@dataclass
class Aggregate:
    voltage: float = NAN
    current: float = NAN
    charge_ah: float = NAN
    capacity_ah: float = NAN
    design_capacity_ah: float = NAN
    percentage: float = NAN
    soc_std: float = NAN
    temperature: float = NAN
    energy_wh: float = NAN
    energy_std_wh: float = NAN
    charge_limit_a: float = NAN
    discharge_limit_a: float = NAN
    time_to_empty_s: float = NAN
    status: int = Status.UNKNOWN
    health: int = Health.UNKNOWN
    present: bool = False
    packs: list[str] = field(default_factory=list)  # the packs this aggregate is made of

    @property
    def power_w(self) -> float:
        return self.voltage * self.current


def combine_status(statuses: list[int]) -> int:
    """The robot's power_supply_status by STATUS_PRECEDENCE (first present wins)."""
    for s in STATUS_PRECEDENCE:
        if s in statuses:
            return int(s)
    return int(Status.UNKNOWN)


def combine_health(healths: list[int]) -> int:
    """The robot's power_supply_health: the most severe by HEALTH_SEVERITY; a value outside the message's
    enum counts as UNSPEC_FAILURE (unknown to us, but reported as a problem)."""
    values = {int(h) for h in Health}
    known = [Health(h) if h in values else Health.UNSPEC_FAILURE for h in healths]
    for h in HEALTH_SEVERITY:
        if h in known:
            return int(h)
    return int(Health.UNKNOWN)


def parallel_limit(limits: list[float], resistances: list[float]) -> float:
    """Largest bus current at which no parallel pack exceeds its own limit.

    The bus current splits by conductance: I_i = I * G_i / sum(G). Pack i reaches its limit at
    I = limit_i * sum(G) / G_i; the bus limit is the smallest of these. Unknown resistances count as equal."""
    if not limits or any(not math.isfinite(x) for x in limits):
        return NAN
    if all(math.isfinite(r) and r > 0 for r in resistances):
        g = [1.0 / r for r in resistances]
    else:
        g = [1.0] * len(limits)
    total = sum(g)
    return min(max(0.0, lim) * total / gi for lim, gi in zip(limits, g))


def _sum(values: list[float]) -> float:
    return math.fsum(values) if values and all(math.isfinite(v) for v in values) else NAN


def _mean(values: list[float]) -> float:
    return _sum(values) / len(values) if values else NAN


def _time_to_empty(charge_ah: float, current_a: float) -> float:
    if math.isfinite(charge_ah) and math.isfinite(current_a) and current_a < 0.0:
        return max(0.0, charge_ah) * 3600.0 / -current_a
    return NAN


def aggregate(packs: list[PackReading], topology: str, expected: int | None = None) -> Aggregate:
    """The robot's battery from the packs now in it. ``expected``: packs configured; a series string with one
    missing is open (present False, everything unknown)."""
    if topology not in TOPOLOGIES:
        raise ValueError(f"topology {topology!r}: one of {', '.join(TOPOLOGIES)}")
    names = [p.name for p in packs]
    if not packs or (topology == "series" and expected is not None and len(packs) < expected):
        return Aggregate(packs=names)
    out = Aggregate(packs=names, present=True)
    out.status = combine_status([p.status for p in packs])
    out.health = combine_health([p.health for p in packs])
    temps = [p.temperature for p in packs if math.isfinite(p.temperature)]
    out.temperature = max(temps) if temps else NAN
    out.design_capacity_ah = (
        _sum([p.design_capacity_ah for p in packs])
        if topology == "parallel"
        else min((p.design_capacity_ah for p in packs), default=NAN)
    )
    if topology == "parallel":
        _parallel(out, packs)
    else:
        _series(out, packs)
    out.time_to_empty_s = _time_to_empty(out.charge_ah, out.current)
    return out


def _parallel(out: Aggregate, packs: list[PackReading]) -> None:
    bus = [p for p in packs if p.charge_fet or p.discharge_fet] or packs  # the others sit at their own OCV
    out.voltage = _mean([p.voltage for p in bus])
    out.current = _sum([p.current for p in packs])
    out.charge_ah = _sum([p.charge() for p in packs])
    out.capacity_ah = _sum([p.capacity_ah for p in packs])
    stored = _sum([p.stored() for p in packs])
    if math.isfinite(stored) and out.capacity_ah > 0:
        # charge / capacity with each pack's charge as its SoC stands for it (a pack's usable charge under
        # load ends early), so one pack alone gives exactly its own percentage
        out.percentage = min(1.0, max(0.0, stored / out.capacity_ah))
        # independent estimators: sigma of the summed charge, as a fraction of the summed capacity
        var_q = [(p.soc_std * p.capacity_ah) ** 2 for p in packs]
        out.soc_std = math.sqrt(_sum(var_q)) / out.capacity_ah
        out.energy_std_wh = math.sqrt(_sum([v * p.mean_voltage() ** 2 for v, p in zip(var_q, packs)]))
    out.energy_wh = _sum([p.energy() for p in packs])
    for kind in ("charge", "discharge"):
        able = [p for p in packs if getattr(p, f"{kind}_fet")]  # a pack with its FET open takes no share
        limit = parallel_limit([getattr(p, f"{kind}_limit_a") for p in able], [p.resistance_ohm for p in able])
        setattr(out, f"{kind}_limit_a", limit if able else 0.0)


def _series(out: Aggregate, packs: list[PackReading]) -> None:
    out.voltage = _sum([p.voltage for p in packs])
    out.current = _mean([p.current for p in packs])  # one current; the mean of its measurements
    stored = [p.stored() for p in packs]
    if all(math.isfinite(q) for q in stored):
        weakest = packs[stored.index(min(stored))]
        q = weakest.charge()
        out.charge_ah, out.capacity_ah = q, weakest.capacity_ah
        out.percentage = min(1.0, max(0.0, weakest.stored() / weakest.capacity_ah)) if weakest.capacity_ah > 0 else NAN
        out.soc_std = weakest.soc_std
        # every pack delivers the weakest's charge, each at its own mean voltage
        out.energy_wh = _sum([q * p.mean_voltage() for p in packs])
        out.energy_std_wh = weakest.soc_std * weakest.capacity_ah * _sum([p.mean_voltage() for p in packs])
    limits_c = [p.charge_limit_a for p in packs]
    limits_d = [p.discharge_limit_a for p in packs]
    out.charge_limit_a = min(limits_c) if all(math.isfinite(x) for x in limits_c) else NAN
    out.discharge_limit_a = min(limits_d) if all(math.isfinite(x) for x in limits_d) else NAN
    if not all(p.charge_fet for p in packs):  # an open FET anywhere opens the string for that direction
        out.charge_limit_a = 0.0
    if not all(p.discharge_fet for p in packs):
        out.discharge_limit_a = 0.0
