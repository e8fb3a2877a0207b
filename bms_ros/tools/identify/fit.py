"""One identification: recording -> OCV curve, capacity, equivalent circuit (``identify``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bms_ros.core import Chemistry, get_chemistry
from bms_ros.tools.identify.ecm import EcmFit, fit_ecm
from bms_ros.tools.identify.ocv import OcvFit, fit_ocv, refine
from bms_ros.tools.identify.recording import IdentifyError, Recording
from bms_ros.tools.identify.segments import charge_ah, current_offset
from bms_ros.tools.identify.segments import find as find_segments

REFINEMENTS = 1  # OCV from the steady segments again with the fitted circuit's overpotential, then refit


@dataclass
class Fit:
    name: str
    base: str  # the built-in chemistry the table builds on (pack.chemistry)
    full_v: float
    empty_v: float
    ocv: OcvFit
    ecm: EcmFit
    current_offset_a: float  # the current sensor's offset seen in the rests (removed before counting charge)
    recording: Recording
    soc: np.ndarray  # per sample, on the fitted capacity
    warnings: list[str] = field(default_factory=list)

    @property
    def capacity_ah(self) -> float:
        return self.ocv.capacity_ah


def base_chemistry(name: str) -> Chemistry:
    try:
        return get_chemistry(name)
    except (KeyError, ValueError) as e:
        raise IdentifyError(str(e).strip("\"'")) from None


def identify(
    rec: Recording,
    chemistry: str,
    full_v: float | None = None,
    empty_v: float | None = None,
    name: str = "",
    rest_current_a: float | None = None,
) -> Fit:
    """Fit the table the estimator reads. ``chemistry``: the built-in one the pack is configured with (the base
    for what the recording cannot show); ``full_v``/``empty_v``: the cell's charge and cut-off voltages (SoC 1
    and 0; default the chemistry's)."""
    base = base_chemistry(chemistry)
    full_v = base.full_v if full_v is None else float(full_v)
    empty_v = base.empty_v if empty_v is None else float(empty_v)
    if not full_v > empty_v:
        raise IdentifyError(f"full_v ({full_v} V) must be above empty_v ({empty_v} V)")
    seg = find_segments(rec, rest_current_a)
    offset = current_offset(rec, seg)
    q = charge_ah(rec, offset)
    unbiased = Recording(rec.t, rec.i - offset, rec.v, rec.temp_c, rec.source)
    ocv = fit_ocv(rec, q, seg, full_v, empty_v)
    for _ in range(REFINEMENTS + 1):
        soc = ocv.soc_of(q)
        ecm = fit_ecm(unbiased, soc, ocv.ocv, ocv.capacity_ah, base, seg.steps)
        if _ == REFINEMENTS:
            break
        ocv = refine(ocv, unbiased, q, seg, ecm.v_model)
    warnings = list(ocv.warnings)
    if ecm.steps_used < 10:
        warnings.append(f"only {ecm.steps_used} current steps: R0 is uncertain")
    return Fit(
        name=name or f"{chemistry}:identified",
        base=chemistry,
        full_v=full_v,
        empty_v=empty_v,
        ocv=ocv,
        ecm=ecm,
        current_offset_a=offset,
        recording=rec,
        soc=soc,
        warnings=warnings,
    )
