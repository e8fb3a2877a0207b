"""What of the estimator survives a restart: the saved-state dictionary, and its validation on load.

The dictionary is JSON-serialisable (``core.persistence`` writes it). ``parse_state`` checks every field's
type (never coerced: "0.5" is not a number, true is not 1) and range, and raises on anything wrong, so a
damaged or foreign file starts the estimator from defaults instead of from nonsense.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from bms_ros.core.chemistry import Chemistry
from bms_ros.core.estimation.adaptation import SCALE_RANGE, Hysteresis, PolarisationRls
from bms_ros.core.estimation.ekf import CellEkf
from bms_ros.core.estimation.soh import CapacityEstimator, ResistanceRls
from bms_ros.core.types import Estimate

__all__ = ["STATE_VERSION", "EstimatorPersistence", "parse_state"]

log = logging.getLogger(__name__)
NAN = math.nan

STATE_VERSION = 1
PENDING_KEYS = ("stamp", "cell_soc", "cell_soc_std", "current_offset_a", "current_offset_std")
# Plausible ranges of a saved state; beyond them the file is not this pack's (or is damaged)
CAPACITY_RANGE = (0.3, 1.5)  # learned capacity / design capacity
RESISTANCE_SCALE_RANGE = (0.2, 10.0)  # learned R0 / the chemistry's R0
POLARISATION_SCALE_RANGE = SCALE_RANGE  # learned R1, R2 / the chemistry's
SOC_RANGE = (-0.1, 1.1)  # the filter's SoC may lie a little outside 0..1
POLARISATION_VAR_KEYS = ("polarisation_var_r1", "polarisation_var_r2")
DESIGN_MATCH_REL = 1e-9  # relative tolerance of the saved design capacity (a float round trip)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def parse_state(d: dict[str, Any], n: int, chemistry: str, design_ah: float) -> dict[str, Any]:
    """The validated contents of a ``state_dict()`` for a pack of ``n`` cells of ``chemistry`` and
    ``design_ah``; raises KeyError, TypeError or ValueError on anything invalid."""
    if not isinstance(d, dict):
        raise TypeError("not a mapping")
    number = _number
    if d.get("version") != STATE_VERSION or not number(d.get("version")):
        raise ValueError(f"version {d.get('version')!r}, expected {STATE_VERSION}")
    if d.get("cell_count") != n or not number(d.get("cell_count")):
        raise ValueError(f"saved for {d.get('cell_count')!r} cells, the pack has {n}")
    if d.get("chemistry") != chemistry:
        raise ValueError(f"saved for chemistry {d.get('chemistry')!r}, configured {chemistry!r}")

    def num(key: str, lo: float, hi: float) -> float:
        if not number(d[key]):
            raise TypeError(f"{key}: expected a number, got {type(d[key]).__name__} {d[key]!r:.60}")
        try:
            x = float(d[key])
        except OverflowError:
            raise ValueError(f"{key}: a number too large for a float") from None
        if not (math.isfinite(x) and lo <= x <= hi):
            raise ValueError(f"{key} = {d[key]!r} is out of range [{lo}, {hi}]")
        return x

    def vec(key: str, lo: float, hi: float) -> np.ndarray:
        v = d[key]
        if not isinstance(v, list) or not all(number(x) for x in v):
            raise TypeError(f"{key}: expected a list of {n} numbers, got {type(v).__name__} {v!r:.60}")
        a = np.asarray(v, dtype=float)
        if a.shape != (n,) or not np.all(np.isfinite(a)) or np.any(a < lo) or np.any(a > hi):
            raise ValueError(f"{key} must be {n} numbers in [{lo}, {hi}]")
        return a

    stamp = d.get("stamp")
    if stamp is not None and not number(stamp):
        raise TypeError(f"stamp: expected a number or null, got {type(stamp).__name__} {stamp!r:.60}")
    st: dict[str, Any] = {"stamp": math.nan if stamp is None else float(stamp)}
    if not number(d["design_capacity_ah"]):
        raise TypeError(f"design_capacity_ah: expected a number, got {d['design_capacity_ah']!r:.60}")
    if abs(float(d["design_capacity_ah"]) - design_ah) > DESIGN_MATCH_REL * design_ah:
        raise ValueError(f"saved for a design capacity of {d['design_capacity_ah']} Ah, configured {design_ah} Ah")
    st["capacity_ah"] = num("capacity_ah", CAPACITY_RANGE[0] * design_ah, CAPACITY_RANGE[1] * design_ah)
    st["capacity_std"] = num("capacity_std", 0.0, design_ah)
    st["capacity_updates"] = int(num("capacity_updates", 0, 1e12))
    st["resistance_scale"] = vec("resistance_scale", *RESISTANCE_SCALE_RANGE)
    st["resistance_var"] = vec("resistance_var", 0.0, 1.0)
    # the adapted polarisation and hysteresis (ISSUE 13); absent from files written before them: defaults
    for key, lo, hi in (
        ("polarisation_scale_r1", *POLARISATION_SCALE_RANGE),
        ("polarisation_scale_r2", *POLARISATION_SCALE_RANGE),
        ("polarisation_var_r1", 0.0, 25.0),
        ("polarisation_var_r2", 0.0, 25.0),
        ("hysteresis_state", -1.0, 1.0),
    ):
        st[key] = vec(key, lo, hi) if d.get(key) is not None else None
    st["cycle_count"] = num("cycle_count", 0.0, 1e7)
    st["discharged_ah"] = num("discharged_ah", 0.0, 1e12)
    if d.get("cell_soc") is None:
        st["cell_soc"] = None
    else:
        st["cell_soc"] = vec("cell_soc", *SOC_RANGE)
        st["cell_soc_std"] = vec("cell_soc_std", 0.0, 1.0)
        st["current_offset_a"] = num("current_offset_a", -design_ah, design_ah)
        st["current_offset_std"] = num("current_offset_std", 0.0, design_ah)
    return st


class EstimatorPersistence:
    """``state_dict`` / ``load_state`` of ``StateEstimator`` (which sets every attribute declared here). A
    loaded SoC waits in ``_pending`` until the first sample, which starts the filter from it."""

    chem: Chemistry
    n: int
    design_ah: float
    ekf: CellEkf
    capacity: CapacityEstimator
    rls: ResistanceRls
    pol: PolarisationRls
    hyst: Hysteresis
    initialized: bool
    cycle_count: float
    discharged_ah: float
    _pending: dict[str, Any] | None
    _pending_now: float | None
    _last_stamp: float | None
    _last: Estimate
    _mef_cache: Any

    def _offset_prior_std(self) -> float:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """What survives a restart (JSON-serialisable)."""
        d: dict[str, Any] = {
            "version": STATE_VERSION,
            "chemistry": self.chem.name,
            "cell_count": self.n,
            "design_capacity_ah": self.design_ah,
            "capacity_ah": self.capacity.capacity_ah,
            "capacity_std": math.sqrt(self.capacity.var),
            "capacity_updates": self.capacity.updates,
            "resistance_scale": self.rls.k.tolist(),
            "resistance_var": self.rls.p.tolist(),
            "polarisation_scale_r1": self.pol.k[0].tolist(),
            "polarisation_scale_r2": self.pol.k[1].tolist(),
            "polarisation_var_r1": self.pol.p[0, 0].tolist(),
            "polarisation_var_r2": self.pol.p[1, 1].tolist(),
            "hysteresis_state": self.hyst.h.tolist(),
            "cycle_count": self.cycle_count,
            "discharged_ah": self.discharged_ah,
            "stamp": NAN,
            "cell_soc": None,
            "cell_soc_std": None,
            "current_offset_a": 0.0,
            "current_offset_std": self._offset_prior_std(),
        }
        if self.initialized:
            d.update(
                stamp=self._last_stamp if self._last_stamp is not None else NAN,
                cell_soc=self.ekf.soc.tolist(),
                cell_soc_std=np.sqrt(self.ekf.soc_var).tolist(),
                current_offset_a=self.ekf.offset,
                current_offset_std=math.sqrt(self.ekf.offset_var),
            )
        elif self._pending is not None:
            d.update({k: self._pending[k] for k in PENDING_KEYS})
        return d

    def load_state(self, d: dict[str, Any], now: float | None = None) -> bool:
        """Restore from state_dict(); ``now`` is the present time on the samples' clock (None: unknown, the
        first sample's stamp is used). Anything invalid: a warning, and defaults are kept. The SoC is checked
        against the open-circuit voltage at the first sample when the pack has rested long enough."""
        try:
            st = self._parse_state(d)
        except (KeyError, TypeError, ValueError, ArithmeticError, RecursionError) as e:
            log.warning("estimator state rejected (%s): starting from defaults (SoC from voltage, rated capacity)", e)
            return False
        self.capacity.capacity_ah = st["capacity_ah"]
        self.capacity.var = st["capacity_std"] ** 2
        self.capacity.updates = st["capacity_updates"]
        self.rls.k[:] = st["resistance_scale"]
        self.rls.p[:] = st["resistance_var"]
        if st["polarisation_scale_r1"] is not None and st["polarisation_scale_r2"] is not None:
            var = [st[k] if st[k] is not None else np.full(self.n, self.pol.p0) for k in POLARISATION_VAR_KEYS]
            self.pol.restore(np.array([st["polarisation_scale_r1"], st["polarisation_scale_r2"]]), np.array(var))
        if st["hysteresis_state"] is not None:
            self.hyst.h[:] = st["hysteresis_state"]
        self._mef_cache = None  # the model error follows the restored parameters
        self.cycle_count = st["cycle_count"]
        self.discharged_ah = st["discharged_ah"]
        if st["cell_soc"] is not None:
            self._pending = st
            self._pending_now = now
            self.initialized = False
        self._last = Estimate(
            design_capacity_ah=self.design_ah,
            capacity_ah=st["capacity_ah"],
            capacity_std_ah=st["capacity_std"],
            soh=st["capacity_ah"] / self.design_ah,
            cycle_count=self.cycle_count,
        )
        return True

    def _parse_state(self, d: dict[str, Any]) -> dict[str, Any]:
        return parse_state(d, self.n, self.chem.name, self.design_ah)
