"""The protection's steady path: a fault stays active (or latched) and nothing else is going on.

The quiet path of ``Protection.evaluate`` covers a pack with no fault. In a replay of a pack that runs into its
limits (a charger above the charge current limit, a robot drawing more than the sustained discharge limit) most
samples have a fault active whose value is still beyond its release, and the full evaluation then changes
nothing but the record of the last values. This path recognises such a sample in Python floats and stores what
the full evaluation would store (test_protection_fast_path checks both paths agree on random streams).

Preconditions (``Protection._steady``, set after a full evaluation): no AFE flag clear in progress, no trip level
counting, no release hold running, and no inactive rule whose last known value was beyond its threshold. The
sample qualifies when no inactive rule's value is beyond its threshold (nothing starts counting) and no active
rule's value is known back past its release (no hold starts). Then every level stays 0, no hold runs, nothing
trips or releases, nothing warns; only ``over`` and ``last_over`` of the active rules follow the values.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from bms_ros.core.protection.events import ProtectionResult

if TYPE_CHECKING:
    from bms_ros.core.measurement import Measurement
    from bms_ros.core.protection.engine import Protection


def steady_tests(p: Protection) -> list[tuple[int, int, float, float, float]]:
    """Per rule, in Python numbers: (rule index, index into Measurement.values, sign, threshold, release)."""
    return [
        (i, int(k), float(sg), float(th), float(rl))
        for i, (k, sg, th, rl) in enumerate(zip(p.measure_idx, p.sign, p.thr, p.rel, strict=True))
    ]


def steady_ready(p: Protection) -> bool:
    """The preconditions (module docstring), from the state a full evaluation left."""
    return (
        not p.flag_ignore_until
        and not p.level.any()
        and not p.prev_up.any()
        and not p.prev_clear.any()
        and not (p.last_over & ~p.active).any()
    )


def steady_step(p: Protection, m: Measurement) -> ProtectionResult | None:
    """The evaluation of a sample that changes nothing (module docstring), or None when it may change something."""
    vl = m.values.tolist()
    ex = m.exact.tolist()
    active = p.active.tolist()
    last_over = p.last_over.tolist()
    over = [False] * len(active)
    for i, k, sg, th, rl in p._steady_tests:
        v = vl[k]
        beyond = sg * (v - th) > 0
        if not active[i]:
            if beyond:
                return None
            continue
        known = ex[k] and not math.isnan(v)
        if known and sg * (v - rl) < 0:  # back past release: the release hold starts
            return None
        over[i] = beyond
        if beyond:
            last_over[i] = True
        elif known:
            last_over[i] = False
    p.t = m.t
    p.last_values = m.values[p.measure_idx]
    p.over = np.array(over)
    p.last_over = np.array(last_over)
    p.warn = p._none
    p._update_physical(m)
    clear_flags = 0
    latched, physical_ok = p.latched, p.physical_ok
    for i, r in p.flag_rules:
        if active[i] and not latched[i] and physical_ok[i]:
            clear_flags |= int(r.afe_flag)
    a, la, bc, bd = p._steady_masks
    return ProtectionResult(a, la, 0, bc, bd, clear_flags, [])


__all__ = ["steady_ready", "steady_step", "steady_tests"]
