"""Write a fit as the chemistry table the node reads (``estimation.chemistry_table``: CSV or YAML, see
``bms_ros.core.load_chemistry_table``). The capacity is not part of a chemistry table: it is written as a
comment (``# capacity_ah:``) for ``pack.design_capacity_ah``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bms_ros.tools.identify.fit import Fit
from bms_ros.tools.identify.recording import IdentifyError


def _scalars(fit: Fit) -> dict[str, object]:
    e = fit.ecm
    out: dict[str, object] = {
        "name": fit.name,
        "full_v": round(fit.full_v, 5),
        "empty_v": round(fit.empty_v, 5),
        "tau1_s": round(e.tau1_s, 2),
        "tau2_s": round(e.tau2_s, 1),
        "diffusion_tau_s": round(e.diffusion_tau_s, 1),
    }
    if e.diffusion_tau_full_s is not None:
        out["diffusion_tau_full_s"] = round(e.diffusion_tau_full_s, 1)
    return out


def _header(fit: Fit) -> list[str]:
    src = fit.recording.source or "a recording"
    return [
        f"identified by bms-identify from {src}",
        f"capacity_ah: {fit.capacity_ah:.4f}  (set pack.design_capacity_ah to this; not read from the table)",
        f"base chemistry: {fit.base} (pack.chemistry); fit residual {fit.ecm.rms_mv:.1f} mV rms",
    ]


def write_table(fit: Fit, path: str | Path) -> Path:
    """CSV (one row per OCV point, the ECM interpolated onto them) or YAML (by the suffix)."""
    p = Path(path)
    e = fit.ecm
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        doc = {
            **_scalars(fit),
            "ocv": {"soc": fit.ocv.soc.round(4).tolist(), "voltage": fit.ocv.ocv_v.round(5).tolist()},
            "ecm": {
                "soc": e.soc.round(4).tolist(),
                "r0_ohm_ah": e.r0.round(6).tolist(),
                "r1_ohm_ah": e.r1.round(6).tolist(),
                "r2_ohm_ah": e.r2.round(6).tolist(),
            },
        }
        text = "".join(f"# {line}\n" for line in _header(fit)) + yaml.safe_dump(doc, sort_keys=False)
    elif p.suffix.lower() == ".csv":
        lines = [f"# {line}" for line in _header(fit)]
        lines += [f"# {k}: {v}" for k, v in _scalars(fit).items()]
        lines.append("soc,ocv_v,r0_ohm_ah,r1_ohm_ah,r2_ohm_ah")
        s = fit.ocv.soc
        cols = [s, fit.ocv.ocv_v] + [np.interp(s, e.soc, r) for r in (e.r0, e.r1, e.r2)]
        lines += [f"{a:.4f},{b:.5f},{c:.6f},{d:.6f},{f:.6f}" for a, b, c, d, f in zip(*cols, strict=True)]
        text = "\n".join(lines) + "\n"
    else:
        raise IdentifyError(f"{p}: the table must be .csv or .yaml")
    try:
        p.write_text(text)
    except OSError as err:
        raise IdentifyError(f"{p}: cannot write: {err.strerror or err}") from None
    return p
