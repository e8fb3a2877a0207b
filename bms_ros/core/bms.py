"""The BMS core: one ``step(sample)`` per AFE read decides faults, FETs, limits, balancing and the heater.

Data flows one way: sample -> validated measurement -> protections -> FET state machine -> current limits ->
balancing -> charge limits and heater (core.charge_limits; the host sets ``charger_present``) -> BmsOutput.
Time comes only from ``sample.stamp``, made monotonic by ``core.timebase`` (a clock step never suspends a
timer). A sample that cannot be used (wrong cell count, empty) is missing data, never an exception. The node
(or bms-replay, or a test) only transports.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque
from typing import Any

import numpy as np

from bms_ros.core.balancing import Balancer
from bms_ros.core.bms_state import ESTIMATOR_SECTION, STORE_SECTION, BmsPersistence
from bms_ros.core.charge_limits import ChargeControl, ChargeInputs
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.config import BmsConfig
from bms_ros.core.estimation.self_discharge import SelfDischargeMonitor
from bms_ros.core.estimator import StateEstimator
from bms_ros.core.faults import Fault, fault_names
from bms_ros.core.fet_control import FetController, FetInputs
from bms_ros.core.limits import CurrentLimiter
from bms_ros.core.measurement import MI, Measurer
from bms_ros.core.persistence import StateStore
from bms_ros.core.protection import FaultEvent, Protection, ProtectionResult
from bms_ros.core.reported import ConsumerView
from bms_ros.core.timebase import CoreClock
from bms_ros.core.types import BalancingConstraints, BmsOutput, BmsState, Estimate, PackSample

log = logging.getLogger(__name__)

_LOCK_BIT = int(Fault.SYSTEM_LOCK)
_OV_FAULTS = int(Fault.CELL_OVERVOLTAGE | Fault.PACK_OVERVOLTAGE | Fault.AFE_HW_OVERVOLTAGE)
# "charging" starts above fet.state_current and ends below this fraction of it (hysteresis against a current
# that hovers at the threshold, so Nav2's IsBatteryCharging does not chatter)
CHARGING_RELEASE_FRACTION = 0.5
# CELL_IMBALANCE is judged on the cell voltage spread only where the OCV curve is flat enough for a voltage
# spread to mean an SoC spread: 20..90 % (NMC, LCO, NCA, LFP; below ~20 % the OCV slope is several times
# steeper, so the 1-2 % SoC spread of a balanced pack reads as >150 mV). Outside, the last judged spread stands.
IMBALANCE_JUDGED_SOC = (0.2, 0.9)


class Bms(BmsPersistence):
    """The decision core for one pack.

    ``store``: where latched faults, the fault log and per-cell balancing times persist (None: nowhere).
    """

    def __init__(self, config: BmsConfig, store: StateStore | None = None):
        self.cfg = config
        self.store = store
        n = config.pack.cell_count
        self.chem = get_chemistry(config.pack.chemistry)
        self.estimator = StateEstimator(config)
        self.measurer = Measurer(config.protection, n)
        self.clock = CoreClock()
        self.self_discharge = SelfDischargeMonitor(n)
        self.protection = Protection(config.protection)
        self.fets = FetController(config.fet)
        self.limiter = CurrentLimiter(config.limits)
        self.balancer = Balancer(config.balancing, n)
        self.charge_control = ChargeControl(config.cvl, config.heater, config.protection, n)
        self.charger_present: bool | None = None  # host-side: the charger contact (None: unknown)
        self.fault_log: deque[dict[str, Any]] = deque(maxlen=config.protection.fault_log_size)
        self._last_valid: float | None = None
        self._last_result: ProtectionResult = self.protection.result_now()
        self._last_fresh = False
        self._charging = False
        self._pending_events: list[FaultEvent] = []
        self._saved_latched = 0
        self.last_output: BmsOutput | None = None
        self._estimator_saved_at = -math.inf
        self._saved_cycles = 0
        self._cycles_now = 0  # whole cycles at the last step (persist() saves at each new one)
        self.clock_events = 0  # clock steps back and jumps forward seen (each logged once)
        self.view = ConsumerView(config)  # what consumers see: held values, the published SoC
        self._spread_judged = math.nan  # V, the cell spread last seen in IMBALANCE_JUDGED_SOC
        self._restore()
        if config.estimation.initial_soc >= 0.0:  # given by the user: it wins over the state file's SoC
            self.estimator.reset(config.estimation.initial_soc)

    # ------------------------------------------------------------------------------------------- host side
    @property
    def balancing_constraints(self) -> BalancingConstraints:
        return self.balancer.constraints

    @balancing_constraints.setter
    def balancing_constraints(self, c: BalancingConstraints) -> None:
        self.balancer.constraints = c

    @property
    def balancing_time_s(self) -> np.ndarray:
        """Seconds each cell has been balanced (bled or transferred), persisted with the store."""
        return self.balancer.time_s

    def set_config(self, config: BmsConfig) -> None:
        """Apply changed (runtime) parameters; state (faults, timers, requests) is kept."""
        if config.pack.cell_count != self.cfg.pack.cell_count:
            raise ValueError("pack.cell_count cannot change while running")
        if config.protection.system_lock.enabled != self.cfg.protection.system_lock.enabled:
            raise ValueError("protection.system_lock.enabled cannot change while running")
        self.cfg = config
        self.view.cfg = config
        self.measurer.cfg = config.protection
        self.protection.set_config(config.protection)
        self.fets.cfg = config.fet
        self.limiter.cfg = config.limits
        self.balancer.cfg = config.balancing
        self.charge_control.set_config(config.cvl, config.heater, config.protection)
        self.estimator.set_config(config)

    def set_charge_enable(self, enable: bool) -> tuple[bool, str]:
        """Host request; remembered and applied once the protections allow it. Disabling always succeeds."""
        self.fets.charge_request = bool(enable)
        if not enable:
            return True, "charging disabled"
        why = self._forbidden(charge=True)
        return (
            (False, f"charge enable remembered, but charging is blocked: {why}") if why else (True, "charging enabled")
        )

    def set_discharge_enable(self, enable: bool) -> tuple[bool, str]:
        self.fets.discharge_request = bool(enable)
        if not enable:
            return True, "discharging disabled"
        why = self._forbidden(charge=False)
        return (
            (False, f"discharge enable remembered, but discharging is blocked: {why}")
            if why
            else (True, "discharging enabled")
        )

    def _forbidden(self, charge: bool) -> str:
        if self.fets.shut_down:
            return "shut down"
        if self._last_valid is None:
            return "no valid data yet"
        if not self._last_fresh:
            return "data stale"
        r = self._last_result
        if r.latched:
            return "latched fault " + ", ".join(fault_names(r.latched)) + " (needs a fault reset)"
        mask = r.block_charge if charge else r.block_discharge
        if mask:
            return ", ".join(fault_names(mask))
        # a condition beyond its limit whose trip delay is still running already holds the FET off
        pending = r.warnings & self.protection.pending_mask(charge)
        return ", ".join(f"{name} (pending)" for name in fault_names(pending))

    @property
    def lock_code(self) -> str:
        """The code ``unlock`` needs while the pack is locked ("" when it is not)."""
        return self._lock_code(self.protection.latched_mask())

    def _lock_code(self, latched: int) -> str:
        """The lock code given the latched fault mask (the step passes its own, already computed)."""
        return self.protection.lock_code if latched & _LOCK_BIT else ""

    def unlock(self, code: str, now: float) -> tuple[bool, str]:
        """End an IEC 62619 system lock (a deliberate act: the code reported with the lock event)."""
        ok, why, events = self.protection.unlock(code, now)
        if events:
            self._log_events(events, self.last_output.sample if self.last_output else None)
            self._last_result = self.protection.result_now()
            self._persist(force=True)
        return ok, why

    def reset_faults(self, now: float) -> tuple[list[str], list[str]]:
        """Clear latched faults whose condition is gone; returns (cleared names, still latched names). A system
        lock stays (see ``unlock``)."""
        cleared, remaining, events = self.protection.reset(now)
        self._log_events(events, self.last_output.sample if self.last_output else None)
        self._last_result = self.protection.result_now()
        self._persist(force=bool(cleared))
        return cleared, remaining

    def remaining_reason(self, name: str) -> str:
        """Why a fault ``reset_faults`` left latched is still latched, and what to do ("" if not latched)."""
        return self.protection.remaining_reason(name)

    def shutdown(self) -> None:
        """Safe state: both FETs off and no balancing from now on; persists the state."""
        self.fets.shut_down = True
        self._persist(force=True)
        self._persist_estimator()

    # ------------------------------------------------------------------------------------------------ step
    def step(self, sample: PackSample) -> BmsOutput:
        cfg = self.cfg
        tick = self.clock.advance(sample.stamp)
        t = tick.t
        if tick.jump:
            self._clock_event(tick.jump, sample)
        core_sample, reason = _usable(sample, cfg.pack.cell_count, t)
        m = self.measurer.measure(core_sample, t, reason)
        m.stamp = sample.stamp  # events and logs carry the sample's own stamp
        m.set("self_discharge", self.self_discharge.rate_c)
        m.set("lock", self.protection.lock_condition(m))
        m.set("cell_spread", self._judged_spread(m.values[MI["cell_spread"]]))
        if m.valid:
            self._last_valid = t
            self.view.last_good = sample
        have = self._last_valid is not None
        fresh = have and t - self._last_valid <= cfg.protection.stale_timeout  # type: ignore[operator]
        self._last_fresh = fresh

        prot = self.protection.evaluate(m)
        self._last_result = prot
        if prot.events:
            self._log_events(prot.events, sample)

        est = self.estimator.update(core_sample if m.valid else _missing_like(core_sample))

        warn_c, warn_d = self.protection.warnings_blocking()
        fet = self.fets.update(
            FetInputs(
                valid=m.valid,
                fresh=fresh,
                have_data=have,
                current=sample.current if m.valid else math.nan,
                block_charge=prot.block_charge,
                block_discharge=prot.block_discharge,
                latched=prot.latched,
                warn_charge=warn_c,
                warn_discharge=warn_d,
            )
        )

        lim = self.limiter.update(
            t,
            cfg.protection,
            charge_on=fet.charge,
            discharge_on=fet.discharge,
            charge_off_reason=fet.charge_reason,
            discharge_off_reason=fet.discharge_reason,
            measured=m.valid,
            cell_max=m.cell_max,
            cell_min=m.cell_min,
            temp_min=m.temp_min,
            temp_max=m.temp_max,
            soc=est.soc,
        )

        hottest = _nanmax(m.temp_max, sample.die_temperature)
        operational = fet.state not in (BmsState.SHUTDOWN, BmsState.FAULT, BmsState.INIT)
        bal = self.balancer.update(
            t,
            core_sample.cell_voltages,
            core_sample.current,
            hottest,
            m.valid,
            fresh and operational,
            prot.active | prot.latched,
        )
        balancing = bool(bal.mask) or bool(bal.transfer_a.any())
        chg = self.charge_control.update(
            ChargeInputs(
                stamp=t,
                limits=lim,
                valid=m.valid,
                fresh=bool(fresh) and fet.state != BmsState.SHUTDOWN,
                cell_max=m.cell_max,
                pack_voltage=core_sample.pack_voltage,
                temp_min=m.temp_min,
                temp_max=m.temp_max,
                balancing=balancing,
                faults=prot.active | prot.latched,
                active=prot.active,
                warnings=prot.warnings,
                charger_present=self.charger_present,
            )
        )
        if m.valid:
            self.self_discharge.update(t, est.cell_soc, core_sample.current, est.capacity_ah, balancing)

        if m.valid:  # a held or unknown sample keeps the last decision (no flapping on a failed read)
            th = cfg.fet.state_current
            self._charging = sample.current > (th * CHARGING_RELEASE_FRACTION if self._charging else th)
        # end of charge: the estimator's one detector (the full anchor), or a charge an over-voltage protection
        # ended (a charger set too high: the pack is full all the same)
        complete = bool(getattr(self.estimator, "end_of_charge", False)) or bool(prot.active & _OV_FAULTS)

        age = t - self._last_valid if have else math.nan  # type: ignore[operator]
        shown = self.view.estimate(est, sample.current if m.valid else math.nan, age, complete)
        if self.store is None:
            self._pending_events.clear()  # nothing will persist them (persist() writes them with a store)
        self._cycles_now = int(est.cycle_count)
        out = BmsOutput(
            stamp=sample.stamp if math.isfinite(sample.stamp) else t,
            sample=sample,
            state=fet.state,
            charge_fet=fet.charge,
            discharge_fet=fet.discharge,
            faults_active=prot.active,
            faults_latched=prot.latched,
            warnings=prot.warnings,
            charge_enable_requested=self.fets.charge_request,
            discharge_enable_requested=self.fets.discharge_request,
            charge_current_limit=chg.charge_current_limit,
            discharge_current_limit=chg.discharge_current_limit,
            limit_reason=f"charge: {chg.charge_current_reason}; discharge: {chg.discharge_current_reason}",
            balancing_mask=bal.mask,
            estimate=shown,
            current_charging=self._charging,
            charge_complete=complete,
            data_fresh=bool(fresh),
            balancing_transfer_a=bal.transfer_a,
            afe_flags_to_clear=prot.afe_flags_to_clear,
            balancing_reason=bal.reason,
            invalid_reason=m.invalid_reason,
            cells_held=int(np.count_nonzero(m.cell_status)),
            lock_code=self._lock_code(prot.latched),
            reported=self.view.sample(sample, m.valid, fresh),
            data_held=bool(have and fresh and not m.valid),
            data_age=age,
            charge_voltage_limit=chg.charge_voltage_limit,
            discharge_voltage_limit=chg.discharge_voltage_limit,
            charge_voltage_reason=chg.charge_voltage_reason,
            charge_current_reason=chg.charge_current_reason,
            discharge_current_reason=chg.discharge_current_reason,
            force_charge=chg.force_charge,
            heater_on=chg.heater.on,
            heater_reason=chg.heater.reason,
        )
        self.last_output = out
        return out

    def _judged_spread(self, spread: float) -> float:
        """The cell spread CELL_IMBALANCE judges: this one inside IMBALANCE_JUDGED_SOC (by the last estimate),
        else the last judged one (the decision neither trips nor releases on the steep ends of the curve)."""
        soc = self.last_output.estimate.soc if self.last_output is not None else math.nan
        lo, hi = IMBALANCE_JUDGED_SOC
        if not math.isnan(spread) and lo <= soc <= hi:
            self._spread_judged = spread
            return spread
        return self._spread_judged if not math.isnan(spread) else spread

    def _clock_event(self, what: str, sample: PackSample) -> None:
        """A clock step: reported once per step (core time goes on regardless, see core.timebase)."""
        self.clock_events += 1
        log.warning("sample clock: %s at stamp %s; protection timing continues on core time", what, sample.stamp)
        self.fault_log.append(
            {
                "t": sample.stamp if math.isfinite(sample.stamp) else self.clock.t,
                "fault": "CLOCK",
                "event": "jump",
                "value": None,
                "detail": what,
            }
        )


def _usable(s: PackSample, cell_count: int, t: float) -> tuple[PackSample, str]:
    """The sample on core time, or a missing sample with the reason it cannot be used (never an exception)."""
    n_cells = s.cell_voltages.shape[0] if s.cell_voltages.ndim == 1 else -1
    if n_cells != cell_count:
        why = f"{max(n_cells, 0)} cell voltages in the sample, {cell_count} configured"
        bad = PackSample.missing(t, cell_count, int(s.temperatures.shape[0]), s.read_errors, s.crc_errors)
        return dataclasses.replace(bad, comm_ok=s.comm_ok), why
    if t == s.stamp:  # the common case: the sample is already on core time (a replace would copy it)
        return s, ""
    return dataclasses.replace(s, stamp=t), ""


def _missing_like(s: PackSample) -> PackSample:
    return PackSample.missing(s.stamp, s.cell_count, int(s.temperatures.shape[0]), s.read_errors, s.crc_errors)


def _nanmax(a: float, b: float) -> float:
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return max(a, b)


__all__ = ["ESTIMATOR_SECTION", "STORE_SECTION", "Bms", "BmsOutput", "Estimate"]
