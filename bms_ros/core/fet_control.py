"""FET control: a small explicit state machine from faults, host requests and data freshness to FET commands.

States (types.BmsState) are decided in this order, first match wins:

==============  =====================================================================  ===============
state           when                                                                   FETs
==============  =====================================================================  ===============
SHUTDOWN        ``shutdown()`` was called (sticky)                                      both off
INIT            no valid sample yet                                                     both off
FAULT           data stale, a latched fault, or active faults forbid both directions    both off
CHARGING        current > ``fet.state_current``                                        per direction
DISCHARGING     current < -``fet.state_current``                                       per direction
STANDBY         otherwise                                                               per direction
==============  =====================================================================  ===============

Per direction ("per direction" above) a FET is on when the host requests it and no active fault of that
direction blocks it. Two guards make it conservative:

* a FET is only switched *on* from a complete, plausible sample with no pending warning (a condition beyond
  its threshold whose delay is still running) that would block that direction;
* a sample that is missing or implausible can keep a FET on until the data goes stale (``stale_timeout``), but
  never turns one on.

A host request can only disable: it is ANDed with the protections, never ORed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bms_ros.core.faults import fault_names
from bms_ros.core.params import param
from bms_ros.core.types import BmsState


@dataclass
class FetConfig:
    state_current: float = param(
        0.1, "Current magnitude above which the state is CHARGING or DISCHARGING", "A", 0.0, 100.0, runtime=True
    )
    charge_enable_default: bool = param(True, "Host charge enable at start (the ~/set_charge_enable request)")
    discharge_enable_default: bool = param(True, "Host discharge enable at start (~/set_discharge_enable)")


@dataclass(frozen=True)
class FetInputs:
    valid: bool  # this sample is complete and plausible
    fresh: bool  # a valid sample arrived within stale_timeout
    have_data: bool  # a valid sample arrived at all
    current: float  # A, NaN when unknown
    block_charge: int  # Fault bits forbidding charge (active or latched)
    block_discharge: int
    latched: int
    warn_charge: bool  # a pending condition would block charge
    warn_discharge: bool


@dataclass(frozen=True)
class FetDecision:
    state: BmsState
    charge: bool
    discharge: bool
    charge_reason: str  # why charge is off ("" when on)
    discharge_reason: str


class FetController:
    def __init__(self, cfg: FetConfig):
        self.cfg = cfg
        self.charge_request = cfg.charge_enable_default
        self.discharge_request = cfg.discharge_enable_default
        self.state = BmsState.INIT
        self.charge = False
        self.discharge = False
        self.shut_down = False

    def update(self, x: FetInputs) -> FetDecision:
        if self.shut_down:
            return self._set(BmsState.SHUTDOWN, False, False, "shutdown", "shutdown")
        if not x.have_data:
            return self._set(BmsState.INIT, False, False, "no valid data yet", "no valid data yet")
        if not x.fresh:
            return self._set(BmsState.FAULT, False, False, "data stale", "data stale")
        if x.latched:
            why = "latched " + ",".join(fault_names(x.latched))
            return self._set(BmsState.FAULT, False, False, why, why)
        if x.block_charge and x.block_discharge:
            return self._set(BmsState.FAULT, False, False, _why(x.block_charge), _why(x.block_discharge))
        chg, c_why = self._direction(self.charge, self.charge_request, x.block_charge, x.warn_charge, x.valid, "charge")
        dsg, d_why = self._direction(
            self.discharge, self.discharge_request, x.block_discharge, x.warn_discharge, x.valid, "discharge"
        )
        i, th = x.current, self.cfg.state_current
        if math.isnan(i):
            state = (
                self.state
                if self.state in (BmsState.CHARGING, BmsState.DISCHARGING, BmsState.STANDBY)
                else BmsState.STANDBY
            )
        elif i > th:
            state = BmsState.CHARGING
        elif i < -th:
            state = BmsState.DISCHARGING
        else:
            state = BmsState.STANDBY
        return self._set(state, chg, dsg, c_why, d_why)

    @staticmethod
    def _direction(
        was_on: bool, requested: bool, blocked: int, warned: bool, valid: bool, name: str
    ) -> tuple[bool, str]:
        if not requested:
            return False, f"{name} disabled by host"
        if blocked:
            return False, _why(blocked)
        if was_on:
            return True, ""
        if not valid:
            return False, "waiting for a valid sample"
        if warned:
            return False, "a protection condition is pending"
        return True, ""

    def _set(self, state: BmsState, chg: bool, dsg: bool, c_why: str, d_why: str) -> FetDecision:
        self.state, self.charge, self.discharge = state, chg, dsg
        return FetDecision(state, chg, dsg, c_why, d_why)


def _why(mask: int) -> str:
    return ",".join(fault_names(mask))


def shutdown_fet_state(policy: str, charge_read: bool | None, discharge_read: bool | None) -> tuple[bool, bool] | None:
    """The FETs when the node stops (parameter ``shutdown_fets``), from the last read-back state: ``off`` both
    open; ``charge_off`` no unsupervised charging, discharge as it was (open when unknown: the AFE's own
    UV/OCD/SCD still protect a pack left discharging); ``keep`` (None) nothing commanded."""
    if policy == "off":
        return False, False
    if policy == "charge_off":
        return False, bool(discharge_read)
    return None
