"""An HTML report of a replayed run: voltages, current, temperatures, SoC with its uncertainty band,
faults and FET states, balancing. Plots are inline SVG, so the report is one file with no dependencies."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bms_ros.core import BmsOutput, Fault, PackSample

W, H, PAD = 900, 180, 44
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


@dataclass
class ReportSink:
    """Collects what the report plots; write() it at the end (``close`` is a no-op so it fits the sinks)."""

    max_points: int = 2000
    t: list[float] = field(default_factory=list)
    cells: list[np.ndarray] = field(default_factory=list)
    pack: list[float] = field(default_factory=list)
    current: list[float] = field(default_factory=list)
    temps: list[np.ndarray] = field(default_factory=list)
    soc: list[float] = field(default_factory=list)
    soc_std: list[float] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    chg: list[int] = field(default_factory=list)
    dsg: list[int] = field(default_factory=list)
    balancing: list[int] = field(default_factory=list)

    def write(self, sample: PackSample, out: BmsOutput) -> None:
        self.t.append(out.stamp)
        self.cells.append(sample.cell_voltages)
        self.pack.append(sample.pack_voltage)
        self.current.append(sample.current)
        self.temps.append(sample.temperatures)
        self.soc.append(out.estimate.soc)
        self.soc_std.append(out.estimate.soc_std)
        self.faults.append(int(out.faults_active) | int(out.faults_latched))
        self.chg.append(int(out.charge_fet))
        self.dsg.append(int(out.discharge_fet))
        self.balancing.append(int(out.balancing_mask))

    def close(self) -> None:
        pass

    def render(self, title: str) -> str:
        if not self.t:
            return _page(title, "<p>no samples</p>")
        t = np.asarray(self.t) - self.t[0]
        scale, unit = (3600.0, "h") if t[-1] > 7200 else (60.0, "min") if t[-1] > 120 else (1.0, "s")
        x = t / scale
        cells = np.vstack(self.cells)
        temps = np.vstack(self.temps) if self.temps and self.temps[0].size else np.zeros((len(t), 0))
        soc, std = np.asarray(self.soc) * 100, np.asarray(self.soc_std) * 100
        fault_bits = [f for f in Fault if f.value and any(m & f.value for m in self.faults)]
        bal = np.asarray(self.balancing)
        n_bal = np.array([bin(int(m)).count("1") for m in bal])
        parts = [
            _plot(
                "Cell voltages (V)",
                x,
                {f"cell {i + 1}": cells[:, i] for i in range(cells.shape[1])},
                unit,
                self.max_points,
            ),
            _plot("Pack voltage (V)", x, {"pack": np.asarray(self.pack)}, unit, self.max_points),
            _plot("Current (A, > 0 charging)", x, {"current": np.asarray(self.current)}, unit, self.max_points),
            _plot(
                "Temperatures (degC)",
                x,
                {f"T{i + 1}": temps[:, i] for i in range(temps.shape[1])},
                unit,
                self.max_points,
            ),
            _plot(
                "State of charge (%) with 2-sigma band",
                x,
                {"SoC": soc},
                unit,
                self.max_points,
                band=(soc - 2 * std, soc + 2 * std),
            ),
            _plot(
                "FETs (1 = on)",
                x,
                {"charge": np.asarray(self.chg, float), "discharge": np.asarray(self.dsg, float) * 0.9},
                unit,
                self.max_points,
            ),
            _plot(
                "Faults (active or latched)",
                x,
                {
                    f.name: np.array([1.0 if m & f.value else math.nan for m in self.faults]) * (k + 1)
                    for k, f in enumerate(fault_bits)
                }
                or {"none": np.zeros(len(x))},
                unit,
                self.max_points,
            ),
            _plot("Cells balancing", x, {"count": n_bal.astype(float)}, unit, self.max_points),
        ]
        summary = (
            f"<p>{len(t)} samples over {t[-1] / scale:.2f} {unit}; SoC {soc[0]:.1f} % -> {soc[-1]:.1f} %; "
            f"faults seen: {html.escape(', '.join(f.name for f in fault_bits) or 'none')}</p>"
        )
        return _page(title, summary + "\n".join(parts))

    def save(self, path: str | Path, title: str = "bms-replay report") -> None:
        Path(path).write_text(self.render(title))


def _page(title: str, body: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:20px}h2{font-size:15px;margin:14px 0 2px}"
        "svg{background:#fafafa;border:1px solid #ddd}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _decimate(n: int, max_points: int) -> np.ndarray:
    return np.arange(n) if n <= max_points else np.linspace(0, n - 1, max_points).astype(int)


def _plot(
    title: str,
    x: np.ndarray,
    series: dict[str, np.ndarray],
    unit: str,
    max_points: int,
    band: tuple[np.ndarray, np.ndarray] | None = None,
) -> str:
    idx = _decimate(len(x), max_points)
    xs = x[idx]
    values = [v[idx] for v in series.values()]
    if band is not None:
        values += [band[0][idx], band[1][idx]]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(0)
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    x0, x1 = float(xs[0]), float(xs[-1]) if xs[-1] > xs[0] else float(xs[0]) + 1

    def px(xv, yv):
        return PAD + (xv - x0) / (x1 - x0) * (W - 2 * PAD), H - PAD / 2 - (yv - lo) / (hi - lo) * (H - PAD)

    def path(xv, yv):
        pts, out = [], []
        for a, b in zip(xv, yv):
            if math.isfinite(b):
                pts.append("{:.1f},{:.1f}".format(*px(a, b)))
            elif pts:
                out.append(pts)
                pts = []
        if pts:
            out.append(pts)
        return out

    svg = [f"<svg width='{W}' height='{H}' xmlns='http://www.w3.org/2000/svg'>"]
    if band is not None:
        ok = np.isfinite(band[0][idx]) & np.isfinite(band[1][idx])
        if ok.any():
            top = [px(a, b) for a, b in zip(xs[ok], band[1][idx][ok])]
            bot = [px(a, b) for a, b in zip(xs[ok], band[0][idx][ok])][::-1]
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in top + bot)
            svg.append(f"<polygon points='{pts}' fill='#1f77b4' fill-opacity='0.2' stroke='none'/>")
    for k, (name, v) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        for seg in path(xs, v[idx]):
            svg.append(f"<polyline fill='none' stroke='{color}' stroke-width='1.2' points='{' '.join(seg)}'/>")
        svg.append(
            f"<text x='{W - PAD + 4}' y='{14 + 12 * k}' font-size='10' fill='{color}'>{html.escape(name)}</text>"
        )
    svg.append(
        f"<text x='4' y='{PAD / 2}' font-size='10'>{hi:.4g}</text>"
        f"<text x='4' y='{H - PAD / 2}' font-size='10'>{lo:.4g}</text>"
        f"<text x='{PAD}' y='{H - 4}' font-size='10'>{x0:.3g} {unit}</text>"
        f"<text x='{W - 2 * PAD}' y='{H - 4}' font-size='10'>{x1:.3g} {unit}</text></svg>"
    )
    return f"<h2>{html.escape(title)}</h2>" + "".join(svg)
