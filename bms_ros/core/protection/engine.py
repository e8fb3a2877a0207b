"""Protection: thresholds, delays, hysteresis, latching, escalation and the system lock for every fault.

Every fault follows the same small state machine, evaluated for all faults at once with numpy, on *core time*
(``core.timebase``: monotonic, so a clock step back or forth never suspends or skips a running trip):

* a *condition* beyond its ``threshold`` counts a **trip level** up (seconds); a value *known* to be back inside
  counts it down at half that rate (``COUNT_DOWN_RATE``), and an unknown value (missing sample, invalid or held
  channel, a statistic that is only a bound) never counts down: after a reading beyond the limit it counts up.
  The fault **trips** when the level reaches the ``delay``. This is the up/down event counter of foxBMS 2: an
  intermittent reading can neither reset a trip nor hide a condition (a value beyond the limit a third of the
  time still trips);
* an active fault **releases** once its value has been *known* back past ``release`` for ``hold`` seconds
  without a break (anything else, unknown included, restarts the hold; a time jump adds at most
  ``stale_timeout`` to it);
* on a trip the fault also **latches** when its policy says so (``latch``, always for severe faults, or when
  it tripped ``escalation_count`` times within ``escalation_window``). A latched fault opens both FETs until a
  fault reset, which is accepted only once the condition has released;
* ``SYSTEM_LOCK`` (IEC 62619:2022 5.6.1: a cell that left its safe operating region) is latched like the others
  but a fault reset never clears it: only ``unlock(code)`` with the code reported at the lock does.

Boolean conditions (AFE flags, implausible data, sensor loss, comm loss, open wire, stuck reading, the lock
condition) use the same machine with the value 1.0/0.0 against a threshold of 0.5.

``POLICY`` (``protection.policy``) is the one table of what each fault does.
"""

from __future__ import annotations

import math
import zlib
from collections import deque

import numpy as np

from bms_ros.core.faults import Fault
from bms_ros.core.measurement import MI, Measurement
from bms_ros.core.protection.config import ProtectionConfig
from bms_ros.core.protection.events import FaultEvent, ProtectionResult
from bms_ros.core.protection.policy import LOCKING_FAULTS, POLICY
from bms_ros.core.protection.steady import steady_ready, steady_step, steady_tests
from bms_ros.core.types import AfeFlag

# A value known to be back inside its limit counts the trip level down at this fraction of the rate a value
# beyond it counts up: a condition present more than a third of the time still trips (foxBMS 2 debounces with
# up/down counters for the same reason).
COUNT_DOWN_RATE = 0.5
# A flag rule's value is 1.0 (condition present) or 0.0: it is beyond this threshold, and back past this release,
# exactly when the condition is present / gone (the value sections have no threshold parameter).
FLAG_THRESHOLD = 0.5
# The unlock code: the low 16 bits of a CRC-32 over the lock's stamp and value, shown as 4 hex digits (reported
# with the SYSTEM_LOCK event and persisted with the lock).
UNLOCK_CODE_MASK = 0xFFFF
# The code a lock restored from a state file written without one answers to.
NO_STORED_UNLOCK_CODE = "0000"


class Protection:
    """Evaluates every rule of POLICY per measurement, on core time (``Measurement.t``)."""

    def __init__(self, cfg: ProtectionConfig):
        n = len(POLICY)
        self.bits = np.array([int(r.fault) for r in POLICY], dtype=np.int64)
        self.measure_idx = np.array([MI[r.measure] for r in POLICY])
        self.sign = np.array([float(r.direction) for r in POLICY])
        self.always_latch = np.array([r.always_latch for r in POLICY])
        self.blocks_c = np.array([r.blocks_charge for r in POLICY])
        self.blocks_d = np.array([r.blocks_discharge for r in POLICY])
        self.flag_rules = [(i, r) for i, r in enumerate(POLICY) if r.afe_flag]
        self._locking = (self.bits & LOCKING_FAULTS) != 0  # the rules whose fault is a lock condition
        self.lock_index = next(i for i, r in enumerate(POLICY) if r.fault == Fault.SYSTEM_LOCK)
        self.active = np.zeros(n, dtype=bool)
        self.latched = np.zeros(n, dtype=bool)
        self.over = np.zeros(n, dtype=bool)
        self.level = np.zeros(n)  # s: trip level (counts up beyond, down inside)
        self.hold_acc = np.zeros(n)  # s: time known back past release, without a break
        self.last_over = np.zeros(n, dtype=bool)  # the last known value was beyond the threshold
        self.prev_up = np.zeros(n, dtype=bool)  # the previous evaluation counted up
        self.prev_clear = np.zeros(n, dtype=bool)  # the previous evaluation was active and known back past release
        self.trips: list[deque[float]] = [deque() for _ in range(n)]
        self.flag_ignore_until: dict[int, float] = {}  # rule index -> core time (flag read back is ignored)
        self.physical_ok = np.ones(n, dtype=bool)
        self.last_values = np.full(n, math.nan)
        self.t: float | None = None  # core time of the last evaluation
        self.lock_code = ""  # the code unlock() needs (set when the lock trips)
        self._lock_hot = False  # the last sample's hottest thermistor beyond the lock temperature
        self._none = np.zeros(n, dtype=bool)
        self._none.setflags(write=False)  # shared "no rule" result of the quiet path: never written to
        self.warn = self._none
        self._physical_kind = [
            (i, "ov" if r.afe_flag == AfeFlag.OVERVOLTAGE else "uv" if r.afe_flag == AfeFlag.UNDERVOLTAGE else "load")
            for i, r in self.flag_rules
        ]
        self._quiet = self._steady = False
        self._steady_masks = (0, 0, 0, 0)  # active, latched, block charge, block discharge of the steady path
        self.set_config(cfg)

    def set_config(self, cfg: ProtectionConfig) -> None:
        self.cfg = cfg
        secs = [getattr(cfg, r.section) for r in POLICY]
        self.thr = np.array([getattr(s, "threshold", FLAG_THRESHOLD) for s in secs])
        self.rel = np.array([getattr(s, "release", FLAG_THRESHOLD) for s in secs])
        self.delay = np.array([s.delay for s in secs])
        self.hold = np.array([s.hold for s in secs])
        self.latch_cfg = np.array([getattr(s, "latch", False) for s in secs]) | self.always_latch
        self.esc_count = [getattr(s, "escalation_count", 0) for s in secs]
        self.esc_window = [getattr(s, "escalation_window", 0.0) for s in secs]
        # the quiet path's trip test per rule, in Python floats: (index into Measurement.values, sign, threshold)
        self._trip_tests = [
            (int(k), float(sg), float(th)) for k, sg, th in zip(self.measure_idx, self.sign, self.thr, strict=True)
        ]
        self._steady_tests = steady_tests(self)
        self._quiet = self._steady = False

    # -------------------------------------------------------------------------------------------------------
    def _inside_all_thresholds(self, m: Measurement) -> bool:
        """No rule's value is beyond its trip threshold: the exact test of ``evaluate`` (``sign * (value -
        threshold) > 0``, NaN never beyond), in Python floats, which round the same as numpy's float64."""
        vl = m.values.tolist()
        for k, sg, th in self._trip_tests:
            if sg * (vl[k] - th) > 0:
                return False
        return True

    def lock_condition(self, m: Measurement) -> float:
        """1.0 when the system lock's condition holds: a locking fault is active, or the hottest thermistor is
        beyond the lock temperature; else 0.0. An unknown temperature is not a lock condition (SENSOR_LOSS
        reacts to it), so a pack whose thermistor failed can still be unlocked once its cells are back."""
        lk = self.cfg.system_lock
        if not lk.enabled:
            return 0.0
        self._lock_hot = bool(m.values[MI["temp_max"]] > lk.temperature)
        return 1.0 if self._locking_fault_active() or self._lock_hot else 0.0

    def _locking_fault_active(self) -> bool:
        return bool((self.active & self._locking).any())

    # -------------------------------------------------------------------------------------------------------
    def evaluate(self, m: Measurement) -> ProtectionResult:
        """One step of every rule's state machine.

        Quiet path: when nothing is active, latched, counting or being ignored (no AFE flag clear in progress),
        no last known value was beyond its threshold, and no value is beyond its trip threshold now, the full
        evaluation below cannot change any state: no level counts up (nothing is beyond, nothing was), none is
        above zero to count down, no hold can run (nothing is active), and the result is all zero. Then only
        what the full path would also store is stored (test_protection_fast_path checks both paths agree).
        """
        if self._quiet and self._inside_all_thresholds(m):
            self.t = m.t
            self.last_values = m.values[self.measure_idx]
            self.over = self.warn = self._none
            self._update_physical(m)
            return ProtectionResult(0, 0, 0, 0, 0, 0, [])
        if self._steady:  # a fault held beyond its release and nothing else going on (core.protection.steady)
            steady = steady_step(self, m)
            if steady is not None:
                return steady
        result = self._evaluate_full(m)
        self._steady = steady_ready(self)
        self._steady_masks = (result.active, result.latched, result.block_charge, result.block_discharge)
        self._quiet = (
            not (result.active or result.latched or self.flag_ignore_until)
            and not self.level.any()
            and not self.last_over.any()
            and not self.prev_up.any()
            and not self.prev_clear.any()
        )
        return result

    def _evaluate_full(self, m: Measurement) -> ProtectionResult:
        t = m.t
        dt = 0.0 if self.t is None else max(t - self.t, 0.0)
        self.t = t
        vals = m.values[self.measure_idx]
        for i, _r in self.flag_rules:  # AFE flags we asked to clear: ignore the stale read-back for a while
            until = self.flag_ignore_until.get(i)
            if until is not None:
                if vals[i] == 0.0 or t > until:
                    del self.flag_ignore_until[i]
                if vals[i] == 1.0 and t <= until:
                    vals[i] = 0.0
        self.last_values = vals
        exact = m.exact[self.measure_idx] & ~np.isnan(vals)
        with np.errstate(invalid="ignore"):
            over = self.sign * (vals - self.thr) > 0  # a bound beyond the limit is beyond it
            clear = exact & (self.sign * (vals - self.rel) < 0)
        inside = exact & ~over
        active = self.active
        # trip level: beyond counts up; unknown after beyond counts up; known inside counts down
        up = (over | (~inside & self.last_over)) & ~active
        # an interval counts up when the condition held at both of its ends (the first sample beyond starts)
        self.level = np.where(
            up,
            np.where(self.prev_up, self.level + dt, self.level),
            np.where(inside | active, np.maximum(self.level - COUNT_DOWN_RATE * dt, 0.0), self.level),
        )
        self.prev_up = up
        self.last_over = np.where(over, True, np.where(inside, False, self.last_over))
        trip = up & (self.level >= self.delay)
        self.over = over
        # release hold: only while known back past release; a time jump adds at most stale_timeout
        holding = active & clear
        self.hold_acc = np.where(holding & self.prev_clear, self.hold_acc + min(dt, self.cfg.stale_timeout), 0.0)
        self.prev_clear = holding
        release = active & clear & (self.hold_acc >= self.hold)
        release[self.lock_index] &= not self.latched[self.lock_index]  # only unlock() ends the lock

        events: list[FaultEvent] = []
        if trip.any() or release.any():
            for k in np.flatnonzero(trip):
                i = int(k)
                events.extend(self._trip(i, t, m.stamp, float(vals[i])))
            for k in np.flatnonzero(release):
                i = int(k)
                self.active[i] = False
                self.hold_acc[i] = 0.0
                self.prev_clear[i] = False
                events.append(FaultEvent(m.stamp, POLICY[i].name, "release", float(vals[i])))
        warn = up & ~self.active

        self._update_physical(m)
        clear_flags = 0
        for i, r in self.flag_rules:
            # ask the node to clear an AFE flag once the physical condition behind it is gone (auto policy), or
            # after a fault reset accepted it (flag_ignore_until set by reset())
            if (self.active[i] and not self.latched[i] and self.physical_ok[i]) or i in self.flag_ignore_until:
                clear_flags |= int(r.afe_flag)
        return self._result(warn, clear_flags, events)

    def _trip(self, i: int, t: float, stamp: float, value: float) -> list[FaultEvent]:
        r = POLICY[i]
        self.active[i] = True
        self.level[i] = 0.0
        self.last_over[i] = False
        self.prev_up[i] = False
        self.prev_clear[i] = False
        ev = [FaultEvent(stamp, r.name, "trip", value)]
        latch, why = bool(self.latch_cfg[i]), ("always latches" if self.always_latch[i] else "policy: latch")
        n = self.esc_count[i]
        if n:
            q = self.trips[i]
            q.append(t)
            while q and q[0] < t - self.esc_window[i]:
                q.popleft()
            if len(q) >= n and not latch:
                latch, why = True, f"escalated: {len(q)} trips within {self.esc_window[i]:g} s"
        if latch and not self.latched[i]:
            self.latched[i] = True
            if i == self.lock_index:
                self.lock_code = f"{zlib.crc32(f'{stamp!r}:{value!r}'.encode()) & UNLOCK_CODE_MASK:04X}"
                why = f"unlock code {self.lock_code}"
            ev.append(FaultEvent(stamp, r.name, "latch", value, why))
        return ev

    def _update_physical(self, m: Measurement) -> None:
        """Whether the condition behind each AFE flag is gone (used to clear the flag)."""
        c = self.cfg
        ok = {
            "ov": m.cell_max < c.cell_overvoltage.release,
            "uv": m.cell_min > c.cell_undervoltage.release,
            # over-current, short circuit: the FETs interrupted the current, but the fault is only gone once
            # the load that drew it is: the AFE's load detection (LOAD_PRESENT, CHG off) reads no load [DS p.24]
            "load": m.valid and not m.load_present,
        }
        physical_ok = self.physical_ok
        for i, kind in self._physical_kind:
            physical_ok[i] = ok[kind]

    def _result(self, warn: np.ndarray, clear_flags: int, events: list[FaultEvent]) -> ProtectionResult:
        bits, a, la = self.bits, self.active, self.latched
        self.warn = warn
        return ProtectionResult(
            int(bits @ a),
            int(bits @ la),
            int(bits @ warn),
            int(bits @ ((a & self.blocks_c) | la)),
            int(bits @ ((a & self.blocks_d) | la)),
            clear_flags,
            events,
        )

    def warnings_blocking(self) -> tuple[bool, bool]:
        """Whether pending (not yet tripped) conditions of the last evaluation would block charge / discharge."""
        w = self.warn
        if w is self._none:
            return False, False
        return bool((w & self.blocks_c).any()), bool((w & self.blocks_d).any())

    def pending_mask(self, charge: bool) -> int:
        """Fault bits whose condition is counting towards a trip and would block that direction."""
        return int(self.bits @ (self.warn & (self.blocks_c if charge else self.blocks_d)))

    def latched_mask(self) -> int:
        return int(self.bits @ self.latched)

    # -------------------------------------------------------------------------------------------------------
    def reset(self, now: float | None = None) -> tuple[list[str], list[str], list[FaultEvent]]:
        """Clear latched faults whose condition is gone; returns (cleared, remaining, events). The system lock
        is never cleared here (see ``unlock``). ``now``: the stamp for the events (core time runs the timers)."""
        self._quiet = self._steady = False  # the next evaluation takes the full path (and re-checks)
        t = self.t if self.t is not None else 0.0
        stamp = t if now is None else now
        cleared: list[str] = []
        remaining: list[str] = []
        events: list[FaultEvent] = []
        flag_idx = {i for i, _ in self.flag_rules}
        for k in np.flatnonzero(self.latched):
            i = int(k)
            r = POLICY[i]
            if i == self.lock_index:
                remaining.append(r.name)
                continue
            if i in flag_idx:
                gone = bool(self.physical_ok[i]) and not (self.over[i] and not self.active[i])
            else:
                gone = not self.active[i] and not self.over[i] and not self.last_over[i]
            if gone:
                self.latched[i] = False
                self.trips[i].clear()
                if i in flag_idx:  # the AFE still holds the flag until the node clears it
                    self.active[i] = False
                    self.hold_acc[i] = 0.0
                    self.prev_clear[i] = False
                    self.flag_ignore_until[i] = t + self.cfg.afe_flag_clear_timeout
                cleared.append(r.name)
                events.append(FaultEvent(stamp, r.name, "reset", float(self.last_values[i])))
            else:
                remaining.append(r.name)
        return cleared, remaining, events

    def remaining_reason(self, name: str) -> str:
        """Why a latched fault that ``reset`` refused is still latched, and what to do (for the operator)."""
        i = next((k for k, r in enumerate(POLICY) if r.name == name), None)
        if i is None or not self.latched[i]:
            return ""
        if i == self.lock_index:
            return (
                "system lock (IEC 62619): a fault reset cannot end it; inspect the pack, then call ~/unlock with "
                "the code in the Protection diagnostic and the fault log"
            )
        kind = dict(self._physical_kind).get(i)
        if kind == "load" and not self.physical_ok[i]:
            return (
                "LOAD_PRESENT: the AFE still detects a load on the pack terminals; disconnect the load "
                "(or the short), then reset again"
            )
        if kind in ("ov", "uv") and not self.physical_ok[i]:
            return "the cell voltage is still beyond the release level"
        return "the condition is still present"

    def unlock(self, code: str, now: float) -> tuple[bool, str, list[FaultEvent]]:
        """End the system lock: only with the code reported when it locked, and only once its condition is
        gone. Other latched faults still need a fault reset."""
        i = self.lock_index
        if not self.latched[i]:
            return False, "the pack is not locked", []
        if not self.lock_code or code.strip().upper() != self.lock_code:
            return False, "wrong unlock code: give the code reported with the SYSTEM_LOCK event", []
        # judged now, not by the lock rule's value, which was computed before this step's evaluation
        if self._locking_fault_active() or self._lock_hot:
            return False, "the lock condition is still present", []
        self._quiet = self._steady = False
        self.latched[i] = False
        self.active[i] = False
        self.hold_acc[i] = 0.0
        self.prev_clear[i] = False
        self.trips[i].clear()
        self.lock_code = ""
        ev = FaultEvent(now, POLICY[i].name, "unlock", float(self.last_values[i]))
        return True, "unlocked; latched faults still need ~/reset_faults", [ev]

    def restore_latched(self, mask: int, lock_code: str = "") -> None:
        """Faults latched before a restart: latched and (until shown released) active."""
        sel = (self.bits & int(mask)) != 0
        self.latched |= sel
        self.active |= sel
        if self.latched[self.lock_index]:
            self.lock_code = lock_code or self.lock_code or NO_STORED_UNLOCK_CODE
        self._quiet = self._steady = False

    def result_now(self) -> ProtectionResult:
        return self._result(np.zeros(len(POLICY), dtype=bool), 0, [])
