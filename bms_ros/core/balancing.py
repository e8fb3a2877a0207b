"""Cell balancing: a passive (bleed resistor) planner and an active (charge transfer) strategy.

Both run only when allowed: mode not ``off``; the pack charging and/or at rest per ``when``; the highest cell
above ``start_voltage``; no fault except those balancing helps with (imbalance, soft over-voltage); a complete
plausible fresh sample; and the hottest sensor (thermistors, AFE die) below ``max_temperature`` (with
``temperature_hysteresis``).

Passive: a cell bleeds while it is more than ``delta_start`` above the lowest cell and keeps bleeding until it is
within ``delta_stop``. Wanted cells are chosen highest first under the AFE's constraints (no two adjacent cells
in a group, at most ``max_per_group``); the mask is re-planned every ``replan_interval`` (cells that reached
``delta_stop`` drop out at once).

Active: charge is moved from the cells above the middle of the spread to those below it, ``active_current`` per
donor cell (fewer when receivers are scarcer), the receivers getting ``active_efficiency`` of it. The transfer
current itself shifts the measured voltages (I*R of each cell, ~10 mV at 1 A), so the strategy works in bursts:
plan from the voltages measured after ``active_settle_time`` without transfer, transfer for
``active_burst_time``, settle again, re-plan. It starts at a spread above ``delta_start`` and stops when a
settled spread is below ``delta_stop``. The output is a per-cell current (A, > 0 charges the cell) that the
active balancer hardware (or the simulated pack) applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bms_ros.core.faults import Fault
from bms_ros.core.params import param
from bms_ros.core.types import BalancingConstraints

# faults that do not stop balancing: bleeding the high cells is the remedy
BALANCING_ALLOWED_FAULTS = int(Fault.CELL_IMBALANCE | Fault.CELL_OVERVOLTAGE | Fault.PACK_OVERVOLTAGE)


@dataclass
class BalancingConfig:
    mode: str = param(
        "passive",
        "off, passive (bleed resistors via the AFE) or active (charge transfer)",
        choices=("off", "passive", "active"),
        runtime=True,
    )
    when: str = param(
        "both", "Balance while charging, at rest, or both", choices=("charging", "rest", "both"), runtime=True
    )
    start_voltage: float = param(4.0, "Balance only while the highest cell is above this", "V", 0.0, 6.0, runtime=True)
    delta_start: float = param(
        0.010, "A cell starts balancing this far above the lowest cell", "V", 0.001, 1.0, runtime=True
    )
    delta_stop: float = param(
        0.005, "A cell stops balancing within this of the lowest cell", "V", 0.0, 1.0, runtime=True
    )
    rest_current: float = param(0.2, "At rest: current magnitude below this", "A", 0.0, 100.0, runtime=True)
    rest_time: float = param(30.0, "At rest: for this long", "s", 0.0, 86400.0, runtime=True)
    charge_current_min: float = param(0.2, "Charging: current above this", "A", 0.0, 1000.0, runtime=True)
    max_temperature: float = param(
        50.0, "No balancing while a thermistor or the AFE die is above this", "degC", 0.0, 150.0, runtime=True
    )
    temperature_hysteresis: float = param(
        5.0, "Balancing resumes this far below max_temperature", "K", 0.0, 50.0, runtime=True
    )
    replan_interval: float = param(10.0, "Passive: re-plan the bleed mask this often", "s", 0.0, 3600.0, runtime=True)
    active_current: float = param(1.0, "Active: transfer current per donor cell", "A", 0.0, 100.0, runtime=True)
    active_efficiency: float = param(
        0.9, "Active: fraction of the transferred charge that arrives", "", 0.1, 1.0, runtime=True
    )
    active_burst_time: float = param(120.0, "Active: transfer this long per plan", "s", 1.0, 3600.0, runtime=True)
    active_settle_time: float = param(
        60.0, "Active: pause this long before measuring for the next plan", "s", 0.0, 3600.0, runtime=True
    )


def _mask_of(bits: np.ndarray) -> int:
    """Bit i set where ``bits[i]`` (any length: an int, not an int64, so beyond 64 cells too)."""
    return int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")


def plan_passive(cells: np.ndarray, wanted: np.ndarray, constraints: BalancingConstraints, group_of: np.ndarray) -> int:
    """Bleed mask: wanted cells, highest first, as many as the AFE constraints permit."""
    idx = np.flatnonzero(wanted)
    if idx.size == 0:
        return 0
    idx = idx[np.argsort(-cells[idx], kind="stable")]
    chosen = np.zeros(cells.shape[0] + 1, dtype=bool)  # one spare so i + 1 is always an index
    per_group: dict[int, int] = {}
    mask = 0
    adj = not constraints.allow_adjacent
    for i in idx.tolist():
        g = int(group_of[i])
        if g < 0:
            continue  # no balancing register covers this cell
        if per_group.get(g, 0) >= constraints.max_per_group:
            continue
        if adj and ((i > 0 and chosen[i - 1] and group_of[i - 1] == g) or (chosen[i + 1] and group_of[i + 1] == g)):
            continue
        chosen[i] = True
        per_group[g] = per_group.get(g, 0) + 1
        mask |= 1 << i
    return mask


def active_transfer(cells: np.ndarray, current: float, efficiency: float) -> np.ndarray:
    """Per-cell transfer current (A, > 0 charges the cell): from cells above the middle of the spread to the
    ones below."""
    mid = 0.5 * (float(cells.max()) + float(cells.min()))
    donors = cells > mid
    receivers = ~donors
    nd, nr = int(donors.sum()), int(receivers.sum())
    out = np.zeros(cells.shape[0])
    if nd == 0 or nr == 0:
        return out
    total = current * min(nd, nr)
    out[donors] = -total / nd
    out[receivers] = efficiency * total / nr
    return out


@dataclass(frozen=True)
class BalancingDecision:
    mask: int
    transfer_a: np.ndarray
    reason: str  # why it is (not) balancing


class Balancer:
    def __init__(self, cfg: BalancingConfig, cell_count: int, constraints: BalancingConstraints | None = None):
        self.cfg = cfg
        self.n = cell_count
        self.time_s = np.zeros(cell_count)  # per cell: seconds bled (passive) or transferred (active)
        self.bleeding = np.zeros(cell_count, dtype=bool)
        self.mask = 0
        self._active_on = False
        self._rest_since = math.nan
        self._too_hot = False
        self._last_plan = -math.inf
        self._t: float | None = None
        self._zero = np.zeros(cell_count)
        self._last_transfer = self._zero
        self._phase, self._phase_until = "", -math.inf
        self.constraints = constraints or BalancingConstraints(
            groups=((0, cell_count),), max_per_group=cell_count, allow_adjacent=True
        )

    @property
    def constraints(self) -> BalancingConstraints:
        return self._constraints

    @constraints.setter
    def constraints(self, c: BalancingConstraints) -> None:
        self._constraints = c
        g = np.full(self.n + 1, -1, dtype=np.int64)
        for k, (start, stop) in enumerate(c.groups):
            g[max(0, start) : min(self.n, stop)] = k
        self._group_of = g
        self._last_plan = -math.inf

    def update(
        self, stamp: float, cells: np.ndarray, current: float, hottest: float, valid: bool, fresh: bool, faults: int
    ) -> BalancingDecision:
        """One planning step. ``valid``: complete plausible sample; ``fresh``: data fresh and the BMS operational
        (not INIT/FAULT/SHUTDOWN); ``faults``: active | latched Fault bits."""
        cfg = self.cfg
        dt = 0.0 if self._t is None else min(max(0.0, stamp - self._t), 10.0)
        self._t = stamp
        # the previous command ran for dt
        if self.mask or self._active_on:
            self.time_s += dt * (self.bleeding if self.mask else (self._last_transfer != 0))
        if valid and not math.isnan(current):
            if abs(current) < cfg.rest_current:
                if math.isnan(self._rest_since):
                    self._rest_since = stamp
            else:
                self._rest_since = math.nan
        if not math.isnan(hottest):
            if hottest > cfg.max_temperature:
                self._too_hot = True
            elif hottest < cfg.max_temperature - cfg.temperature_hysteresis:
                self._too_hot = False
        reason = self._blocked(stamp, cells, current, valid, fresh, faults)
        if reason:
            return self._stop(reason)
        if cfg.mode == "passive":
            return self._passive(stamp, cells)
        return self._active(stamp, cells)

    def _blocked(self, stamp: float, cells: np.ndarray, current: float, valid: bool, fresh: bool, faults: int) -> str:
        cfg = self.cfg
        if cfg.mode == "off":
            return "off"
        if not fresh:
            return "not operational"
        if not valid:
            return "no valid data"
        if faults & ~BALANCING_ALLOWED_FAULTS:
            return "fault"
        if self._too_hot:
            return "too hot"
        resting = not math.isnan(self._rest_since) and stamp - self._rest_since >= cfg.rest_time
        charging = current > cfg.charge_current_min
        if not ((cfg.when in ("charging", "both") and charging) or (cfg.when in ("rest", "both") and resting)):
            return (
                "not charging"
                if cfg.when == "charging"
                else ("not at rest" if cfg.when == "rest" else "neither charging nor at rest")
            )
        if float(cells.max()) <= cfg.start_voltage:
            return "below start voltage"
        return ""

    def _passive(self, stamp: float, cells: np.ndarray) -> BalancingDecision:
        cfg = self.cfg
        self._active_on = False
        above = cells - float(cells.min())
        wanted = (above > cfg.delta_start) | (self.bleeding & (above > cfg.delta_stop))
        if stamp - self._last_plan >= cfg.replan_interval or not self.mask:
            mask = plan_passive(cells, wanted, self._constraints, self._group_of)
            self._last_plan = stamp
        else:
            mask = _mask_of(wanted) & self.mask  # the bleeding cells still wanted
        self._set_mask(mask)
        self._last_transfer = self._zero
        return BalancingDecision(mask, self._zero, "balancing" if mask else "balanced")

    def _active(self, stamp: float, cells: np.ndarray) -> BalancingDecision:
        cfg = self.cfg
        self._set_mask(0)
        if self._active_on and stamp < self._phase_until:  # inside a burst or a settle pause
            if self._phase == "burst":
                return BalancingDecision(0, self._last_transfer, "balancing (active)")
            return BalancingDecision(0, self._zero, "balancing (active, settling)")
        if self._active_on and self._phase == "burst":  # burst over: settle before measuring
            self._phase, self._phase_until = "settle", stamp + cfg.active_settle_time
            self._last_transfer = self._zero
            if cfg.active_settle_time > 0:
                return BalancingDecision(0, self._zero, "balancing (active, settling)")
        spread = float(cells.max() - cells.min())
        if spread > cfg.delta_start or (self._active_on and spread > cfg.delta_stop):
            self._active_on = True
            self._phase, self._phase_until = "burst", stamp + cfg.active_burst_time
            self._last_transfer = active_transfer(cells, cfg.active_current, cfg.active_efficiency)
            return BalancingDecision(0, self._last_transfer, "balancing (active)")
        return self._stop("balanced")

    def _set_mask(self, mask: int) -> None:
        if mask != self.mask:
            self.mask = mask
            self.bleeding = np.array([(mask >> i) & 1 for i in range(self.n)], dtype=bool)

    def _stop(self, reason: str) -> BalancingDecision:
        self._set_mask(0)
        self._active_on = False
        self._last_transfer = self._zero
        self._phase, self._phase_until = "", -math.inf
        return BalancingDecision(0, self._zero, reason)
