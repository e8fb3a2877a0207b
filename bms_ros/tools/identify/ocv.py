"""The OCV curve and the capacity from a robot's recording.

Points: every rest's last minute (relaxed voltage at its charge count), and the steady (low-rate) segments
with their overpotential taken out: at each rest the steady segment passes through the same charge count, the
overpotential per ampere there is the segment's voltage minus the rest's, divided by the segment's current,
and between rests it is interpolated (constant beyond). A segment no rest falls on is not used.

SoC axis: the curve spans the charge counts from the lowest to the highest point. Where those points sit on
the SoC scale (0 at ``empty_v``, 1 at ``full_v``) is read from the built-in curve of the configured chemistry
(scaled to the cell's voltage window) at their voltages: the steep ends make this a small correction when the
recording runs from near empty to a full charge, and it is reported. Capacity = the charge between the lowest
and the highest point over their SoC difference. Outside the measured span the table follows the built-in
curve's shape, joined continuously.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bms_ros.core import Chemistry
from bms_ros.tools.identify.recording import IdentifyError, Recording
from bms_ros.tools.identify.segments import REST_TAIL_S, STEADY_SKIP_S, Segments

GRID = np.linspace(0.0, 1.0, 101)  # SoC points of the written table
N_BINS = 120  # the measured curve: point averages over this many equal charge bins
MIN_SPAN = 0.3  # below this SoC span the capacity is not trusted (a warning)
MIN_STEP_V = 1e-5  # V: the table's OCV must strictly increase


@dataclass
class OcvFit:
    soc: np.ndarray  # GRID
    ocv_v: np.ndarray
    capacity_ah: float
    q_empty_ah: float  # charge count (Ah, as recorded) at SoC 0: SoC(t) = (q(t) - q_empty) / capacity
    soc_lo: float  # measured span on the SoC axis
    soc_hi: float
    rest_q: np.ndarray  # the points, for the report
    rest_v: np.ndarray
    steady_q: np.ndarray
    steady_v: np.ndarray
    warnings: list[str] = field(default_factory=list)

    def soc_of(self, q: np.ndarray) -> np.ndarray:
        return (q - self.q_empty_ah) / self.capacity_ah

    def ocv(self, soc: np.ndarray) -> np.ndarray:
        return np.interp(soc, self.soc, self.ocv_v)


def rest_points(rec: Recording, q: np.ndarray, seg: Segments) -> tuple[np.ndarray, np.ndarray]:
    n_tail = max(int(REST_TAIL_S / rec.dt), 1)
    qs = np.array([q[b - 1] for a, b in seg.rests])
    vs = np.array([float(np.mean(rec.v[max(b - n_tail, a) : b])) for a, b in seg.rests])
    return qs, vs


def steady_points(
    rec: Recording, q: np.ndarray, seg: Segments, rest_q: np.ndarray, rest_v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The steady segments' voltages minus their overpotential (see the module docstring)."""
    out_q, out_v = [], []
    skip = int(STEADY_SKIP_S / rec.dt)
    for a, b in seg.steady:
        a += skip
        if b - a < 2:
            continue
        qq, vv, ii = q[a:b], rec.v[a:b], rec.i[a:b]
        order = np.argsort(qq)
        lo, hi = qq[order[0]], qq[order[-1]]
        on = (rest_q >= lo - 1e-9) & (rest_q <= hi + 1e-9)
        if not on.any():
            continue
        # a rest at the segment's own end (the charge stops, the cell rests) counts as on it
        r_eff = (np.interp(rest_q[on], qq[order], vv[order]) - rest_v[on]) / np.interp(rest_q[on], qq[order], ii[order])
        k = np.argsort(rest_q[on])
        out_q.append(qq)
        out_v.append(vv - ii * np.interp(qq, rest_q[on][k], r_eff[k]))
    if not out_q:
        return np.array([]), np.array([])
    return np.concatenate(out_q), np.concatenate(out_v)


def _binned(q: np.ndarray, v: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted point means over N_BINS charge bins, then made non-decreasing."""
    edges = np.linspace(q.min(), q.max(), N_BINS + 1)
    k = np.clip(np.searchsorted(edges, q, side="right") - 1, 0, N_BINS - 1)
    wsum = np.bincount(k, weight, N_BINS)
    have = wsum > 0
    qm = np.bincount(k, weight * q, N_BINS)[have] / wsum[have]
    vm = np.bincount(k, weight * v, N_BINS)[have] / wsum[have]
    return qm, np.maximum.accumulate(vm)


def _window_curve(base: Chemistry, full_v: float, empty_v: float) -> tuple[np.ndarray, np.ndarray]:
    """The built-in curve scaled onto this cell's voltage window."""
    vb = np.asarray(base.ocv(GRID), dtype=float)
    return GRID, empty_v + (vb - vb[0]) * (full_v - empty_v) / (vb[-1] - vb[0])


def fit_ocv(rec: Recording, q: np.ndarray, seg: Segments, base: Chemistry, full_v: float, empty_v: float) -> OcvFit:
    if len(seg.rests) < 2:
        raise IdentifyError(
            f"{rec.source}: {len(seg.rests)} rest(s) of 10 min or more; the OCV needs at least two "
            "(e.g. one after the drive and one after the dock charge)"
        )
    rq, rv = rest_points(rec, q, seg)
    if np.corrcoef(rq, rv)[0, 1] < 0:
        raise IdentifyError(f"{rec.source}: the rest voltages fall as charge goes in; is the current's sign right?")
    sq, sv = steady_points(rec, q, seg, rq, rv)
    warnings = []
    if sq.size == 0:
        warnings.append("no steady (low-rate) segment passes a rest: the curve is interpolated between rests only")
    return curve(rec.source, rq, rv, sq, sv, base, full_v, empty_v, warnings)


def refine(fit: OcvFit, rec: Recording, q: np.ndarray, seg: Segments, model_v: np.ndarray, base: Chemistry) -> OcvFit:
    """The curve again, the steady segments' overpotential now taken from the fitted circuit (which follows
    the diffusion lag between rests) instead of interpolated between rests: OCV = measured - (model - OCV)."""
    skip = int(STEADY_SKIP_S / rec.dt)
    idx = np.concatenate([np.arange(a + skip, b) for a, b in seg.steady if b - a - skip >= 2] or [np.array([], int)])
    if idx.size == 0:
        return fit
    sv = fit.ocv(fit.soc_of(q[idx])) + rec.v[idx] - model_v[idx]
    full_v, empty_v = float(fit.ocv_v[-1]), float(fit.ocv_v[0])
    return curve(rec.source, fit.rest_q, fit.rest_v, q[idx], sv, base, full_v, empty_v, fit.warnings)


def curve(
    source: str,
    rq: np.ndarray,
    rv: np.ndarray,
    sq: np.ndarray,
    sv: np.ndarray,
    base: Chemistry,
    full_v: float,
    empty_v: float,
    warnings: list[str],
) -> OcvFit:
    """Points -> capacity, SoC axis and the table (see the module docstring)."""
    # every rest counts as much as a whole bin of steady samples
    per_bin = max(sq.size / N_BINS, 1.0)
    w = np.concatenate((np.full(rq.size, per_bin), np.ones(sq.size)))
    cq, cv = _binned(np.concatenate((rq, sq)), np.concatenate((rv, sv)), w)
    bs, bv = _window_curve(base, full_v, empty_v)
    s_lo = float(np.interp(cv[0], bv, bs))
    s_hi = float(np.interp(cv[-1], bv, bs))
    if s_hi - s_lo < MIN_SPAN:
        raise IdentifyError(
            f"{source}: the rests span {s_lo:.0%} to {s_hi:.0%} SoC; the capacity needs a recording from "
            f"near empty to full (at least {MIN_SPAN:.0%} apart)"
        )
    warnings = [w for w in warnings if not w.startswith("the recording spans")]
    if s_lo > 0.15 or s_hi < 0.9:
        warnings.append(
            f"the recording spans {s_lo:.0%}..{s_hi:.0%} SoC: outside it the curve and the capacity lean on the "
            "built-in curve; record a drive to near empty and a full dock charge"
        )
    cap = float((cq[-1] - cq[0]) / (s_hi - s_lo))
    q_empty = float(cq[0] - s_lo * cap)
    ocv = np.interp(GRID, (cq - q_empty) / cap, cv)
    below, above = GRID < s_lo, GRID > s_hi
    b_lo, b_hi = float(np.interp(s_lo, bs, bv)), float(np.interp(s_hi, bs, bv))
    if b_lo > empty_v:
        ocv[below] = empty_v + (bv[below] - empty_v) * (cv[0] - empty_v) / (b_lo - empty_v)
    if b_hi < full_v:
        ocv[above] = full_v - (full_v - bv[above]) * (full_v - cv[-1]) / (full_v - b_hi)
    ocv[0], ocv[-1] = empty_v, full_v
    return OcvFit(GRID.copy(), strictly_increasing(ocv), cap, q_empty, s_lo, s_hi, rq, rv, sq, sv, warnings)


def strictly_increasing(v: np.ndarray) -> np.ndarray:
    """Non-decreasing, and every flat step raised by MIN_STEP_V (the chemistry table needs a strict rise)."""
    out = np.maximum.accumulate(np.asarray(v, dtype=float))
    for k in range(1, out.size):
        out[k] = max(out[k], out[k - 1] + MIN_STEP_V)
    return out
