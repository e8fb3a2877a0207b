"""Compare two bms-replay runs (output CSVs): SoC within a tolerance, faults and FET decisions exactly.

A regression test for the core: record once, replay after every change, and read what moved.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tolerances:
    soc: float = 0.005  # absolute, 0..1
    time: float = 1e-6  # s, sample stamps must line up


@dataclass(frozen=True)
class Difference:
    row: int
    t: float
    column: str
    baseline: str
    candidate: str


EXACT = ("faults", "charge_allowed", "discharge_allowed")


def read_run(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"t", "soc", *EXACT} <= set(rows[0]):
        raise ValueError(f"{path}: not a bms-replay output (needs t, soc, {', '.join(EXACT)})")
    return rows


def _num(x: str) -> float:
    try:
        return float(x)
    except ValueError:
        return math.nan


def compare(
    baseline: list[dict[str, str]], candidate: list[dict[str, str]], tol: Tolerances = Tolerances()
) -> list[Difference]:
    diffs: list[Difference] = []
    if len(baseline) != len(candidate):
        diffs.append(
            Difference(min(len(baseline), len(candidate)), math.nan, "rows", str(len(baseline)), str(len(candidate)))
        )
    for i, (a, b) in enumerate(zip(baseline, candidate)):
        t = _num(a["t"])
        if not abs(t - _num(b["t"])) <= tol.time:
            diffs.append(Difference(i, t, "t", a["t"], b["t"]))
            continue
        sa, sb = _num(a["soc"]), _num(b["soc"])
        if not (math.isnan(sa) and math.isnan(sb)) and not abs(sa - sb) <= tol.soc:
            diffs.append(Difference(i, t, "soc", a["soc"], b["soc"]))
        for col in EXACT:
            if a[col] != b[col]:
                diffs.append(
                    Difference(
                        i,
                        t,
                        col,
                        a.get("fault_names", a[col]) if col == "faults" else a[col],
                        b.get("fault_names", b[col]) if col == "faults" else b[col],
                    )
                )
    return diffs


def format_diff(diffs: list[Difference], limit: int = 20) -> str:
    """A readable summary: how many differences per column, then the first ``limit`` of them."""
    if not diffs:
        return "runs agree within tolerances"
    by_col: dict[str, int] = {}
    for d in diffs:
        by_col[d.column] = by_col.get(d.column, 0) + 1
    lines = [
        f"{len(diffs)} difference(s): " + ", ".join(f"{c} x{n}" for c, n in by_col.items()),
        f"{'row':>7} {'t (s)':>12}  {'column':<18} {'baseline':<28} candidate",
    ]
    for d in diffs[:limit]:
        lines.append(f"{d.row:>7} {d.t:>12.3f}  {d.column:<18} {d.baseline:<28} {d.candidate}")
    if len(diffs) > limit:
        lines.append(f"... and {len(diffs) - limit} more")
    return "\n".join(lines)
