"""What ``Bms`` persists and restores (a mixin of ``core.bms.Bms``): latched faults, the fault log, per-cell
balancing times and the estimator's state, in the sections ``STORE_SECTION`` and ``ESTIMATOR_SECTION`` of its
``StateStore``. ``step`` does no I/O: the host calls ``persist()`` after publishing.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import Any

import numpy as np

from bms_ros.core.balancing import Balancer
from bms_ros.core.config import BmsConfig
from bms_ros.core.estimator import StateEstimator
from bms_ros.core.faults import Fault, fault_names
from bms_ros.core.persistence import StateStore
from bms_ros.core.protection import FaultEvent, Protection, ProtectionResult
from bms_ros.core.state_schema import parse_protection_state
from bms_ros.core.timebase import CoreClock
from bms_ros.core.types import PackSample

log = logging.getLogger("bms_ros.core.bms")  # the core's logger, as before the split

STORE_SECTION = "protection"
ESTIMATOR_SECTION = "estimator"


class BmsPersistence:
    """The persistence part of ``Bms`` (which sets these attributes in its ``__init__``)."""

    cfg: BmsConfig
    store: StateStore | None
    clock: CoreClock
    estimator: StateEstimator
    protection: Protection
    balancer: Balancer
    fault_log: deque[dict[str, Any]]
    _last_result: ProtectionResult
    _pending_events: list[FaultEvent]
    _saved_latched: int
    _estimator_saved_at: float
    _saved_cycles: int
    _cycles_now: int

    def persist(self) -> None:
        """Write what the steps since the last call changed: latched faults and their events at once, the
        estimator every ``estimation.state_save_period`` of core time and at each whole cycle. ``step`` does no
        I/O; the node (and the replay tools) call this after publishing, so a slow disk never delays a decision."""
        if self.store is None:
            self._pending_events.clear()
            return
        self._persist()
        t = self.clock.t
        if t is None:
            return
        if (
            t - self._estimator_saved_at >= self.cfg.estimation.state_save_period
            or self._cycles_now != self._saved_cycles
        ):
            self._estimator_saved_at = t
            self._saved_cycles = self._cycles_now
            self._persist_estimator()

    def _persist_estimator(self) -> None:
        if self.store is None:
            return
        try:
            self.store.put(ESTIMATOR_SECTION, self.estimator.state_dict())
        except OSError as e:
            log.error("cannot persist the estimator state to %s: %s", self.store.path, e)

    @property
    def fault_history(self) -> list[dict[str, Any]]:
        return list(self.fault_log)

    def _log_events(self, events: list[FaultEvent], sample: PackSample | None) -> None:
        for e in events:
            d = e.to_dict()
            if sample is not None:
                d["context"] = _context(sample)
            self.fault_log.append(d)
            self._pending_events.append(e)
            level = logging.ERROR if e.fault == Fault.SYSTEM_LOCK.name else logging.INFO
            log.log(
                level,
                "fault %s %s at %.3f s (value %s) %s %s",
                e.fault,
                e.event,
                e.stamp,
                d["value"],
                e.detail,
                d.get("context", ""),
            )

    def _persist(self, force: bool = False) -> None:
        if self.store is None:
            self._pending_events.clear()
            return
        latched = self.protection.latched_mask()
        if not force and not self._pending_events and latched == self._saved_latched:
            return
        state = {
            "latched": fault_names(latched),
            "lock_code": self.protection.lock_code if latched & Fault.SYSTEM_LOCK else "",
            "fault_log": list(self.fault_log),
            "balancing_time_s": self.balancer.time_s.tolist(),
        }
        try:
            self.store.put(STORE_SECTION, state)
        except OSError as e:
            log.error("cannot persist the protection state to %s: %s", self.store.path, e)
            return
        self._saved_latched = latched
        self._pending_events.clear()

    def _restore(self) -> None:
        """Latched faults, the fault log, balancing times and the estimator's state from the store. Each part is
        checked against its schema (core.state_schema): a wrong one is reported and left at its default, the
        rest is used; a bad file never stops the start."""
        if self.store is None:
            return
        st = parse_protection_state(self.store.get(STORE_SECTION), self.cfg.pack.cell_count)
        for msg in st.errors:
            log.error(msg)
        for msg in st.warnings:
            log.warning(msg)
        self.protection.restore_latched(st.latched, st.lock_code)
        self._saved_latched = self.protection.latched_mask()
        self.fault_log.extend(st.fault_log)
        if st.balancing_time_s is not None:
            self.balancer.time_s = st.balancing_time_s
        self._last_result = self.protection.result_now()
        est = self.store.get(ESTIMATOR_SECTION)
        if est is not None:
            self.estimator.load_state(est, None)  # invalid state: a warning and safe defaults


def _context(s: PackSample) -> dict[str, Any]:
    def f(x: float) -> float | None:
        return None if not math.isfinite(x) else round(float(x), 4)

    cells = s.cell_voltages
    ok = cells[np.isfinite(cells)]
    temps = s.temperatures[np.isfinite(s.temperatures)]
    return {
        "cell_max": f(ok.max()) if ok.size else None,
        "cell_min": f(ok.min()) if ok.size else None,
        "pack_voltage": f(s.pack_voltage),
        "current": f(s.current),
        "temp_max": f(temps.max()) if temps.size else None,
        "temp_min": f(temps.min()) if temps.size else None,
        "afe_flags": int(s.afe_flags),
    }
