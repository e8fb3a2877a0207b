"""The fit as one self-contained HTML page: parameters, warnings and three inline SVG plots (OCV points and
curve, measured vs model voltage, resistances over SoC). No plotting library needed."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bms_ros.tools.identify.fit import Fit
from bms_ros.tools.identify.recording import IdentifyError

W, H, PAD = 720, 280, 48  # px
MAX_POINTS = 1500  # a line is decimated to this many points
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def _decimate(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    step = max(x.size // MAX_POINTS, 1)
    return x[::step], y[::step]


def svg_plot(
    title: str,
    xlabel: str,
    ylabel: str,
    lines: list[tuple[str, np.ndarray, np.ndarray]],
    dots: Sequence[tuple[str, np.ndarray, np.ndarray]] = (),
) -> str:
    """A line and scatter plot as an SVG string (linear axes, min..max of the data)."""
    xs = np.concatenate([x for _, x, _ in [*lines, *dots]] or [np.zeros(1)])
    ys = np.concatenate([y for _, _, y in [*lines, *dots]] or [np.zeros(1)])
    ok = np.isfinite(xs) & np.isfinite(ys)
    x0, x1 = float(xs[ok].min()), float(xs[ok].max())
    y0, y1 = float(ys[ok].min()), float(ys[ok].max())
    x1, y1 = (x1 if x1 > x0 else x0 + 1.0), (y1 if y1 > y0 else y0 + 1.0)

    def px(x, y):
        return PAD + (x - x0) / (x1 - x0) * (W - 2 * PAD), H - PAD - (y - y0) / (y1 - y0) * (H - 2 * PAD)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-size="11" font-family="sans-serif">']
    out.append(f'<text x="{W / 2}" y="16" text-anchor="middle" font-weight="bold">{html.escape(title)}</text>')
    out.append(f'<rect x="{PAD}" y="{PAD}" width="{W - 2 * PAD}" height="{H - 2 * PAD}" fill="none" stroke="#888"/>')
    for k in range(5):
        fx, fy = x0 + (x1 - x0) * k / 4, y0 + (y1 - y0) * k / 4
        X, _ = px(fx, y0)
        _, Y = px(x0, fy)
        out.append(f'<text x="{X:.1f}" y="{H - PAD + 14}" text-anchor="middle">{fx:.4g}</text>')
        out.append(f'<text x="{PAD - 4}" y="{Y + 4:.1f}" text-anchor="end">{fy:.4g}</text>')
    out.append(f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle">{html.escape(xlabel)}</text>')
    out.append(
        f'<text x="12" y="{H / 2}" transform="rotate(-90 12 {H / 2})" text-anchor="middle">{html.escape(ylabel)}</text>'
    )
    for n, (label, x, y) in enumerate(lines):
        x, y = _decimate(x, y)
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(*px(x, y), strict=True) if np.isfinite(a) and np.isfinite(b))
        out.append(f'<polyline fill="none" stroke="{COLOURS[n % 4]}" stroke-width="1.2" points="{pts}"/>')
        out.append(
            f'<text x="{W - PAD - 4}" y="{PAD + 14 + 13 * n}" text-anchor="end" '
            f'fill="{COLOURS[n % 4]}">{html.escape(label)}</text>'
        )
    for n, (label, x, y) in enumerate(dots, start=len(lines)):
        x, y = _decimate(x, y)
        c = COLOURS[n % 4]
        out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2" fill="{c}"/>' for a, b in zip(*px(x, y), strict=True)]
        out.append(
            f'<text x="{W - PAD - 4}" y="{PAD + 14 + 13 * n}" text-anchor="end" fill="{c}">{html.escape(label)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def report_html(fit: Fit) -> str:
    o, e, rec = fit.ocv, fit.ecm, fit.recording
    rows = [
        ("recording", f"{rec.source} ({(rec.t[-1] - rec.t[0]) / 3600:.2f} h at {rec.dt:g} s)"),
        ("capacity", f"{fit.capacity_ah:.4f} Ah (measured span {o.soc_lo:.1%} .. {o.soc_hi:.1%} SoC)"),
        ("full_v / empty_v", f"{fit.full_v:.3f} / {fit.empty_v:.3f} V"),
        ("tau1, tau2", f"{e.tau1_s:.1f} s, {e.tau2_s:.0f} s"),
        (
            "diffusion lag",
            f"{e.diffusion_tau_s:.0f} s (top of charge: "
            f"{'base' if e.diffusion_tau_full_s is None else format(e.diffusion_tau_full_s, '.0f')} s)",
        ),
        ("R0 median", f"{np.median(e.r0) / fit.capacity_ah * 1e3:.2f} mOhm from {e.steps_used} current steps"),
        ("current offset", f"{fit.current_offset_a * 1e3:.1f} mA (mean current in the rests; removed)"),
        ("fit residual", f"{e.rms_mv:.2f} mV rms"),
        ("points", f"{o.rest_q.size} rests, {o.steady_q.size} steady-segment samples"),
    ]
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in fit.warnings) or "<li>none</li>"
    hours = (rec.t - rec.t[0]) / 3600
    plots = [
        svg_plot(
            "OCV",
            "SoC",
            "V",
            [("fitted table", o.soc, o.ocv_v)],
            [
                ("steady segments, overpotential removed", o.soc_of(o.steady_q), o.steady_v),
                ("rests", o.soc_of(o.rest_q), o.rest_v),
            ],
        ),
        svg_plot("Voltage", "h", "V", [("measured", hours, rec.v), ("model", hours, e.v_model)]),
        svg_plot("Model error", "h", "mV", [("measured - model", hours, (rec.v - e.v_model) * 1e3)]),
        svg_plot(
            "Resistances (25 °C)",
            "SoC",
            "mOhm",
            [(f"R{k}", e.soc, r / fit.capacity_ah * 1e3) for k, r in enumerate((e.r0, e.r1, e.r2))],
        ),
    ]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>bms-identify: {html.escape(fit.name)}</title>"
        "<style>body{font-family:sans-serif;max-width:760px;margin:1em auto}"
        "th{text-align:left;padding-right:1em}</style>"
        f"</head><body><h1>bms-identify: {html.escape(fit.name)}</h1><table>{table}</table>"
        f"<h2>Warnings</h2><ul>{warn}</ul>" + "".join(f"<p>{p}</p>" for p in plots) + "</body></html>\n"
    )


def write_report(fit: Fit, path: str | Path) -> Path:
    p = Path(path)
    try:
        p.write_text(report_html(fit))
    except OSError as err:
        raise IdentifyError(f"{p}: cannot write: {err.strerror or err}") from None
    return p
