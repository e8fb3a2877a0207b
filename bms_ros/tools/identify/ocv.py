"""The OCV curve and the capacity from a robot's recording.

Points: every rest's last minute (relaxed voltage at its charge count), and the steady (low-rate) segments
with their overpotential taken out: at each rest the steady segment passes through the same charge count, the
overpotential per ampere there is the segment's voltage minus the rest's, divided by the segment's current,
and between rests it is interpolated (constant beyond). A segment no rest falls on is not used.

SoC axis: SoC 0 is where the curve reaches ``empty_v``, 1 where it reaches ``full_v`` (the cell's cut-off
and charge voltages). Past the lowest and the highest point the curve is extended along its end slopes: when
the recording runs down to the cut-off (a low-rate run home) and up through a full CC-CV dock charge, those
ends are a few percent of the charge at most; the report warns otherwise. Capacity = the charge between the
two ends: Ah counted between rest-anchored points, plus the two short extensions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bms_ros.tools.identify.recording import IdentifyError, Recording
from bms_ros.tools.identify.segments import REST_TAIL_S, STEADY_SKIP_S, Segments

GRID = np.linspace(0.0, 1.0, 101)  # SoC points of the written table
N_BINS = 120  # the measured curve: point averages over this many equal charge bins
MIN_SPAN = 0.3  # below this SoC span the capacity cannot be read
ANCHOR_SAMPLES = 10  # a rest within this many samples' charge of a steady segment's end anchors it
END_BINS = 4  # the end slopes from this many bins (~3 % of the span)
END_WARN = 0.05  # a measured span starting above 5 % or ending below 95 % SoC is warned about
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
        tol = ANCHOR_SAMPLES * rec.dt * float(np.max(np.abs(ii))) / 3600.0  # a rest right at its end is on it
        on = (rest_q >= lo - tol) & (rest_q <= hi + tol)
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
    """Weighted point means over N_BINS charge bins."""
    edges = np.linspace(q.min(), q.max(), N_BINS + 1)
    k = np.clip(np.searchsorted(edges, q, side="right") - 1, 0, N_BINS - 1)
    wsum = np.bincount(k, weight, N_BINS)
    have = wsum > 0
    qm = np.bincount(k, weight * q, N_BINS)[have] / wsum[have]
    vm = np.bincount(k, weight * v, N_BINS)[have] / wsum[have]
    return qm, vm


def _end_slope(cq: np.ndarray, cv: np.ndarray, low: bool) -> float:
    """dOCV/dq (V/Ah) at one end of the measured curve: a line through its END_BINS end bins (more if flat)."""
    for n in (END_BINS, 3 * END_BINS, cq.size):
        x, y = (cq[:n], cv[:n]) if low else (cq[-n:], cv[-n:])
        if x.size >= 2 and np.ptp(x) > 0:
            g = float(np.polyfit(x, y, 1)[0])
            if g > 0:
                return g
    raise IdentifyError("the OCV points do not rise with charge; is the current's sign right?")


def fit_ocv(rec: Recording, q: np.ndarray, seg: Segments, full_v: float, empty_v: float) -> OcvFit:
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
    return curve(rec.source, rq, rv, sq, sv, full_v, empty_v, warnings)


def refine(fit: OcvFit, rec: Recording, q: np.ndarray, seg: Segments, model_v: np.ndarray) -> OcvFit:
    """The curve again, the steady segments' overpotential now taken from the fitted circuit (which follows
    the diffusion lag between rests) instead of interpolated between rests: OCV = measured - (model - OCV)."""
    skip = int(STEADY_SKIP_S / rec.dt)
    idx = np.concatenate([np.arange(a + skip, b) for a, b in seg.steady if b - a - skip >= 2] or [np.array([], int)])
    if idx.size == 0:
        return fit
    sv = fit.ocv(fit.soc_of(q[idx])) + rec.v[idx] - model_v[idx]
    full_v, empty_v = float(fit.ocv_v[-1]), float(fit.ocv_v[0])
    return curve(rec.source, fit.rest_q, fit.rest_v, q[idx], sv, full_v, empty_v, fit.warnings)


def curve(
    source: str,
    rq: np.ndarray,
    rv: np.ndarray,
    sq: np.ndarray,
    sv: np.ndarray,
    full_v: float,
    empty_v: float,
    warnings: list[str],
) -> OcvFit:
    """Points -> capacity, SoC axis and the table (see the module docstring)."""
    # the steady samples binned with the rests within their span (a rest weighs as much as a bin of steady
    # samples); the rests beyond it added as knots of their own; then non-decreasing
    if sq.size:
        tol = 0.5 * (sq.max() - sq.min()) / N_BINS
        out = (rq < sq.min() - tol) | (rq > sq.max() + tol)
        w = np.concatenate((np.full(int(np.sum(~out)), max(sq.size / N_BINS, 1.0)), np.ones(sq.size)))
        bq, bv = _binned(np.concatenate((rq[~out], sq)), np.concatenate((rv[~out], sv)), w)
        cq, cv = np.concatenate((bq, rq[out])), np.concatenate((bv, rv[out]))
    else:
        cq, cv = rq, rv
    order = np.argsort(cq)
    cq, cv = cq[order], np.maximum.accumulate(cv[order])
    g_lo, g_hi = _end_slope(cq, cv, low=True), _end_slope(cq, cv, low=False)
    q_empty = float(cq[0] - max(cv[0] - empty_v, 0.0) / g_lo)
    q_full = float(cq[-1] + max(full_v - cv[-1], 0.0) / g_hi)
    cap = q_full - q_empty
    s_lo, s_hi = float((cq[0] - q_empty) / cap), float((cq[-1] - q_empty) / cap)
    if s_hi - s_lo < MIN_SPAN:
        raise IdentifyError(
            f"{source}: the recording spans {s_lo:.0%} to {s_hi:.0%} SoC; the capacity needs a drive to near "
            f"empty and a full charge (at least {MIN_SPAN:.0%} apart)"
        )
    warnings = [w for w in warnings if not w.startswith("the recording spans")]
    if s_lo > END_WARN or s_hi < 1.0 - END_WARN:
        warnings.append(
            f"the recording spans {s_lo:.0%}..{s_hi:.0%} SoC: the capacity extrapolates the curve's end slopes "
            f"to {empty_v} / {full_v} V; record a drive down to the cut-off and a full dock charge"
        )
    qs = np.concatenate(([q_empty], cq, [q_full]))
    vs = np.concatenate(([empty_v], cv, [full_v]))
    keep = np.concatenate(([True], np.diff(qs) > 1e-12))
    ocv = np.interp(GRID, (qs[keep] - q_empty) / cap, vs[keep])
    ocv[0], ocv[-1] = empty_v, full_v
    return OcvFit(GRID.copy(), strictly_increasing(ocv), cap, q_empty, s_lo, s_hi, rq, rv, sq, sv, warnings)


def strictly_increasing(v: np.ndarray) -> np.ndarray:
    """Non-decreasing, and every flat step raised by MIN_STEP_V (the chemistry table needs a strict rise)."""
    out = np.maximum.accumulate(np.asarray(v, dtype=float))
    for k in range(1, out.size):
        out[k] = max(out[k], out[k - 1] + MIN_STEP_V)
    return out
