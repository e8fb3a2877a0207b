"""User chemistry tables (CSV or YAML): ``load_chemistry_table(path, base)``."""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bms_ros.core.chemistry_model import T_REF_C, Chemistry


class ChemistryTableError(ValueError):
    """A user chemistry table could not be used; the message names the file and the reason."""


_SCALARS = (
    "nominal_v",
    "full_v",
    "empty_v",
    "r0_ohm_per_ah",
    "r1_ohm_per_ah",
    "tau1_s",
    "r2_ohm_per_ah",
    "tau2_s",
    "r_activation_k",
    "diffusion_tau_s",
    "diffusion_tau_full_s",
    "diffusion_full_soc",
    "ocv_uncertainty_v",
    "ocv_soc_uncertainty",
    "ecm_uncertainty",
    "hysteresis_v",
    "hysteresis_soc",
    "tau_activation_k",
)
# A table measured on the cell (or fitted by bms-identify) fits it to about the sensor's accuracy: the OCV
# curve to 3 mV (1-sigma; the rest relaxation and the fit of a C/20 curve), the resistances to 15 % (1-sigma;
# spread of an HPPC fit over SoC). Tuning values of the estimator, chosen on the training cells (bench/README)
TABLE_OCV_UNCERTAINTY_V = 0.003
TABLE_ECM_UNCERTAINTY = 0.15
_OCV_AT_T = re.compile(r"^ocv_v@(-?\d+(?:\.\d+)?)$")
_CSV_SCALAR = re.compile(r"^#\s*([a-z][a-z0-9_]*)\s*[:=]\s*(\S.*?)\s*$")  # "# full_v: 3.65" above the header


def load_chemistry_table(path: str | Path, base: Chemistry) -> Chemistry:
    """``base`` with the OCV curve and ECM parameters replaced from a user table.

    CSV: one row per SoC point; columns ``soc`` and either ``ocv_v`` (25 degC) or ``ocv_v@<T>`` for several
    temperatures (e.g. ``ocv_v@0,ocv_v@25,ocv_v@45``); optional ``docv_dt`` (V/K), and ``r0_ohm_ah``,
    ``r1_ohm_ah``, ``r2_ohm_ah`` (ECM tables over the same SoC points; ``r0_chg_ohm_ah`` etc. for the charge
    direction, default the same); ``tau1_s``, ``tau2_s`` and the diffusion columns (``diffusion_tau_s``,
    ``diffusion_tau_full_s``, ``diffusion_full_soc``) must be constant. The scalars (``name``, ``nominal_v``,
    ``full_v``, ``empty_v``, ``r_activation_k`` and the others YAML takes) stand in comment lines of the form
    ``# full_v: 3.65``; other comment lines are free text.

    YAML: a mapping with optional scalars (``name``, ``nominal_v``, ``full_v``, ``empty_v``, ``tau1_s``,
    ``tau2_s``, ``r_activation_k``, ``diffusion_tau_s``, ``diffusion_tau_full_s``, ``diffusion_full_soc``) and
    sections ``ocv: {soc, voltage | temperatures_c + voltage_by_temperature, docv_dt}`` and ``ecm: {soc,
    r0_ohm_ah, r1_ohm_ah, r2_ohm_ah}`` (lists or scalars; optional ``r0_chg_ohm_ah``, ``r1_chg_ohm_ah``,
    ``r2_chg_ohm_ah`` for charging, default the discharge values; the scalars ``tau1_s``, ``tau2_s``,
    ``r_activation_k`` and the diffusion ones may stand here too).

    Either format may state how far the table is to be trusted and the hysteresis (ISSUE 13): the scalars
    ``ocv_uncertainty_v`` (1-sigma of the OCV curve, V; default TABLE_OCV_UNCERTAINTY_V when the table gives
    the curve), ``ocv_soc_uncertainty`` (its SoC axis), ``ecm_uncertainty`` (relative 1-sigma of the
    resistances; default TABLE_ECM_UNCERTAINTY when the table gives them), ``hysteresis_v`` / ``hysteresis_soc``
    (default none about a table's own curve) and ``tau_activation_k`` (the time constants' Arrhenius factor).

    Raises ChemistryTableError naming the file and the problem.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ChemistryTableError(f"{p}: cannot read chemistry table: {e.strerror or e}") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            doc = yaml.safe_load(text)
            if not isinstance(doc, Mapping):
                raise ChemistryTableError(f"{p}: top level must be a mapping")
            changes = _from_yaml(doc)
        else:
            changes = _from_csv(text)
        changes.setdefault("name", f"{base.name}:{p.stem}")
        if "ocv_v" in changes:  # a curve measured on the cell, unless the table says how good it is
            changes.setdefault("ocv_uncertainty_v", TABLE_OCV_UNCERTAINTY_V)
            changes.setdefault("ocv_soc_uncertainty", 0.0)
            # the curve is the table's: hysteresis about it only where the table states it (bms-identify
            # fits it from the charge and discharge rests; a single measured curve has none known)
            changes.setdefault("hysteresis_v", 0.0)
        if "ecm_soc" in changes or any(k in changes for k in ("r0_ohm_per_ah", "r1_ohm_per_ah", "r2_ohm_per_ah")):
            changes.setdefault("ecm_uncertainty", TABLE_ECM_UNCERTAINTY)
        changes["source"] = str(p)
        for k in ("r0_chg_table", "r1_chg_table", "r2_chg_table"):  # not given: the discharge table
            changes.setdefault(k, None)
        if "ecm_soc" in changes:  # a table the user did not give keeps the (base or user) scalar
            for field_name, scalar in (
                ("r0_table", "r0_ohm_per_ah"),
                ("r1_table", "r1_ohm_per_ah"),
                ("r2_table", "r2_ohm_per_ah"),
            ):
                if field_name not in changes:
                    value = changes.get(scalar, getattr(base, scalar))
                    changes[field_name] = np.full(changes["ecm_soc"].shape, float(value))
        elif any(k in changes for k in ("r0_ohm_per_ah", "r1_ohm_per_ah", "r2_ohm_per_ah")):
            changes.update(ecm_soc=None, r0_table=None, r1_table=None, r2_table=None)
        return dataclasses.replace(base, **changes)
    except (ValueError, TypeError, KeyError) as e:
        raise ChemistryTableError(f"{p}: {e}") from None
    except Exception as e:  # yaml errors and the like: one clear line
        raise ChemistryTableError(f"{p}: {type(e).__name__}: {e}") from None


def _floats(x: Any, what: str) -> np.ndarray:
    a = np.atleast_1d(np.asarray(x, dtype=float))
    if a.ndim != 1 or not np.all(np.isfinite(a)):
        raise ChemistryTableError(f"{what}: expected a finite number or a list of numbers")
    return a


def _from_yaml(doc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    known = set(_SCALARS) | {"name", "base", "ocv", "ecm", "envelope"}  # envelope: see core.envelope
    unknown = set(doc) - known
    if unknown:
        raise ChemistryTableError(f"unknown keys {sorted(unknown)}; known: {sorted(known)}")
    if "name" in doc:
        out["name"] = str(doc["name"])
    for k in _SCALARS:
        if k in doc:
            out[k] = float(doc[k])
    ocv = doc.get("ocv")
    if ocv is not None:
        if not isinstance(ocv, Mapping) or "soc" not in ocv:
            raise ChemistryTableError("ocv: needs 'soc' and 'voltage' (or 'temperatures_c' + 'voltage_by_temperature')")
        soc = _floats(ocv["soc"], "ocv.soc")
        out["ocv_soc"] = soc
        if "voltage_by_temperature" in ocv:
            temps = _floats(ocv.get("temperatures_c", []), "ocv.temperatures_c")
            table = np.asarray(ocv["voltage_by_temperature"], dtype=float)
            if table.shape != (temps.size, soc.size):
                raise ChemistryTableError("ocv.voltage_by_temperature: one row per temperature, one column per soc")
            out["ocv_temps_c"] = tuple(temps)
            out["ocv_v_by_temp"] = table
            out["ocv_v"] = np.array([np.interp(T_REF_C, temps, table[:, j]) for j in range(soc.size)])
        elif "voltage" in ocv:
            out["ocv_v"] = _floats(ocv["voltage"], "ocv.voltage")
            out["ocv_temps_c"] = ()
            out["ocv_v_by_temp"] = None
            out["docv_dt"] = _floats(ocv["docv_dt"], "ocv.docv_dt") if "docv_dt" in ocv else None
        else:
            raise ChemistryTableError("ocv: needs 'voltage' or 'voltage_by_temperature'")
        if out["ocv_v"].shape != soc.shape:
            raise ChemistryTableError("ocv.voltage: one value per soc point")
        if out.get("docv_dt") is not None and out["docv_dt"].shape != soc.shape:
            raise ChemistryTableError("ocv.docv_dt: one value per soc point")
    ecm = doc.get("ecm")
    if ecm is not None:
        if not isinstance(ecm, Mapping):
            raise ChemistryTableError("ecm: must be a mapping")
        ecm_soc = _floats(ecm.get("soc", [0.5]), "ecm.soc")
        out["ecm_soc"] = ecm_soc
        for key, field_name in (
            ("r0_ohm_ah", "r0_table"),
            ("r1_ohm_ah", "r1_table"),
            ("r2_ohm_ah", "r2_table"),
            ("r0_chg_ohm_ah", "r0_chg_table"),
            ("r1_chg_ohm_ah", "r1_chg_table"),
            ("r2_chg_ohm_ah", "r2_chg_table"),
        ):
            if key in ecm:
                v = _floats(ecm[key], f"ecm.{key}")
                out[field_name] = np.full(ecm_soc.shape, v[0]) if v.size == 1 else v
        for key in (
            "tau1_s",
            "tau2_s",
            "r_activation_k",
            "diffusion_tau_s",
            "diffusion_tau_full_s",
            "diffusion_full_soc",
        ):
            if key in ecm:
                out[key] = float(ecm[key])
    return out


def _csv_scalars(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in text.splitlines():
        m = _CSV_SCALAR.match(line.strip())
        if m is None or (m.group(1) not in _SCALARS and m.group(1) != "name"):
            continue
        key, value = m.group(1), m.group(2)
        if key == "name":
            out[key] = value
            continue
        try:
            out[key] = float(value)
        except ValueError:
            raise ChemistryTableError(f"CSV: {key} must be a number, not {value!r}") from None
    return out


def _from_csv(text: str) -> dict[str, Any]:
    scalars = _csv_scalars(text)
    rows = list(csv.reader(line for line in text.splitlines() if line.strip() and not line.startswith("#")))
    if len(rows) < 3:
        raise ChemistryTableError("CSV needs a header and at least two rows")
    header = [h.strip() for h in rows[0]]
    if "soc" not in header:
        raise ChemistryTableError("CSV header needs a 'soc' column")
    try:
        data = np.array([[float(x) for x in r] for r in rows[1:]], dtype=float)
    except ValueError as e:
        raise ChemistryTableError(f"CSV: not a number ({e})") from None
    if data.shape[1] != len(header):
        raise ChemistryTableError("CSV: every row needs one value per header column")
    col = {h: data[:, i] for i, h in enumerate(header)}
    out: dict[str, Any] = {"ocv_soc": col["soc"]}
    temp_cols = sorted((float(m.group(1)), h) for h in header if (m := _OCV_AT_T.match(h)))
    if temp_cols:
        temps = np.array([t for t, _ in temp_cols])
        table = np.array([col[h] for _, h in temp_cols])
        out["ocv_temps_c"] = tuple(temps)
        out["ocv_v_by_temp"] = table
        out["ocv_v"] = np.array([np.interp(T_REF_C, temps, table[:, j]) for j in range(table.shape[1])])
    elif "ocv_v" in header:
        out["ocv_v"] = col["ocv_v"]
        out["ocv_temps_c"] = ()
        out["ocv_v_by_temp"] = None
        out["docv_dt"] = col.get("docv_dt")
    else:
        raise ChemistryTableError("CSV header needs 'ocv_v' or 'ocv_v@<degC>' columns")
    have_ecm = False
    for key, field_name in (
        ("r0_ohm_ah", "r0_table"),
        ("r1_ohm_ah", "r1_table"),
        ("r2_ohm_ah", "r2_table"),
        ("r0_chg_ohm_ah", "r0_chg_table"),
        ("r1_chg_ohm_ah", "r1_chg_table"),
        ("r2_chg_ohm_ah", "r2_chg_table"),
    ):
        if key in col:
            out[field_name] = col[key]
            have_ecm = True
    for key in ("tau1_s", "tau2_s", "diffusion_tau_s", "diffusion_tau_full_s", "diffusion_full_soc"):
        if key in col:
            if np.ptp(col[key]) > 0:
                raise ChemistryTableError(f"CSV column {key} must be constant")
            out[key] = float(col[key][0])
    if have_ecm:
        out["ecm_soc"] = col["soc"]
    return {**scalars, **out}
