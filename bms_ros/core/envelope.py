"""The chemistry envelope: absolute limits no protection setting may lie outside (ISSUE 11).

The protection thresholds are settings; the envelope is what the *cell* tolerates, so it bounds the settings:

* every cell voltage threshold and release (cell and pack over/under-voltage, the hard and deep limits, all
  per cell) lies within ``[cell_voltage_min, cell_voltage_max]``;
* the charge and discharge temperature trips (thresholds and releases) lie within the charge and discharge
  temperature windows;
* the charge over-current trip is at most ``max_charge_c`` x design capacity, the discharge ones at most
  ``max_discharge_c`` x design capacity (a C-rate, so it scales with the pack);
* no trip delay exceeds its maximum (``MAX_DELAY_S``), ``protection.stale_timeout`` is at most
  ``MAX_STALE_TIMEOUT_S`` and ``protection.afe_flag_clear_timeout`` at most ``MAX_FLAG_CLEAR_TIMEOUT_S``.

A setting outside the envelope is rejected with the reason (``ConfigError``), unless the parameter file says
``protection.allow_outside_envelope: true``: then every violation is returned by ``violations`` and the node
logs each one at ERROR level at start and whenever a parameter change adds one (the user has taken
responsibility; the BMS says so loudly and keeps saying it at every start).

Where the numbers come from (cell datasheets; each chemistry lists the ones it was checked against):

* ``cell_voltage_max``: the datasheet charge voltage with its tolerance (the "upper limit charging voltage",
  as IEC 62133-2 and IEC 62619 define it), plus a 0.10 V trip margin for the measurement
  tolerance of the AFE and for a latching last-resort limit that must sit above the software trip. Beyond it
  the cathode and electrolyte degrade and lithium plates: a charge must have stopped before.
* ``cell_voltage_min``: the lowest discharge cut-off voltage the datasheets of the chemistry give. Below it
  the anode's copper current collector starts to dissolve (graphite cells; the dissolved copper later plates
  as dendrites that can short the cell); a deep-discharge latch set lower than this comes too late.
* charge window: lithium plates on graphite below 0 degC (Petzl, Zhang & Jossen, J. Power Sources 275 (2015)
  799-807), so every graphite-anode chemistry charges from 0 degC up; LTO (anode at 1.55 V vs Li/Li+) does
  not plate and charges from -30 degC. The upper end is the datasheet's.
* discharge window: the datasheet operating range for discharge.
* C-rates: the largest continuous ratings of the chemistry's power cells (an over-current *trip* above the
  highest rating the cell maker allows protects nothing).

A user chemistry table (``estimation.chemistry_table``, YAML) describes a specific cell and may declare its
own envelope under ``envelope:`` (keys as the fields below, plus an optional ``source`` string naming its
datasheet); undeclared keys keep the base chemistry's values. Declared values are checked for plausibility
(finite, ordered, physically possible for a lithium-ion cell), not against the built-in values: a
high-voltage cell may well tolerate 4.40 V. CSV tables cannot carry an envelope (one row per SoC point):
their base chemistry's applies.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bms_ros.core.params import ConfigError


@dataclass(frozen=True)
class Envelope:
    cell_voltage_min: float  # V, absolute minimum cell voltage
    cell_voltage_max: float  # V, absolute maximum cell voltage
    charge_temperature_min: float  # degC, lowest cell temperature at which charging may be allowed
    charge_temperature_max: float  # degC, highest ...
    discharge_temperature_min: float  # degC
    discharge_temperature_max: float  # degC
    max_charge_c: float  # 1/h: largest charge over-current trip, in multiples of the design capacity
    max_discharge_c: float  # 1/h: largest discharge over-current trip (fast and sustained levels)
    source: str = ""


# Built-in envelopes, by chemistry name (bms_ros.core.chemistry.CHEMISTRIES).
#
# Datasheets behind the numbers (typical published values; check your own cell's datasheet and, where it
# differs, declare it in a chemistry table):
#   NMC  - INR18650 3.0 Ah power cells (e.g. Samsung INR18650-30Q class): charge 4.20 +- 0.05 V, cut-off 2.50 V,
#          charge 0..50 degC, discharge -20..75 degC (the envelope keeps the common -20..60 degC of consumer
#          NMC cells), 15 A continuous on 3 Ah = 5C.
#   NCA  - Panasonic NCR18650B: charge 4.20 V, cut-off 2.50 V, charge 0..45 degC, discharge -20..60 degC.
#   LCO  - Samsung ICR18650-26C: charge 4.20 +- 0.05 V, cut-off 2.75 V (2.50 V absolute), charge 0..45 degC;
#          ICR18650 generic: discharge -20..60 degC.
#   LFP  - IFR26650 2.3 Ah (A123 ANR26650M1-class): charge 3.65 V, cut-off 2.0 V, max charge 5C, max
#          continuous discharge 20C; charge window 0..50 degC (plating limit above; datasheets give 45..55).
#   LTO  - Toshiba SCiB: operating voltage 1.7..2.8 V above 0 degC and 1.5..2.8 V below, operation to -30 degC;
#          Nichicon SLB: 1.8..2.8 V, -30..60 degC, 20C charge and discharge.
# Every graphite-anode chemistry: max charge trip 5C, max discharge trip 20C (the LFP power cell's ratings, the
# highest of the class).
ENVELOPES: dict[str, Envelope] = {
    "nmc": Envelope(
        2.50,
        4.35,
        0.0,
        50.0,
        -20.0,
        60.0,
        5.0,
        20.0,
        "NMC/graphite: INR18650 power-cell datasheets (4.20 +- 0.05 V, 2.50 V cut-off, charge 0..50 degC)",
    ),
    "nca": Envelope(
        2.50,
        4.35,
        0.0,
        45.0,
        -20.0,
        60.0,
        5.0,
        20.0,
        "NCA/graphite: Panasonic NCR18650B datasheet (4.20 V, 2.50 V cut-off, charge 0..45 degC)",
    ),
    "lco": Envelope(
        2.50,
        4.35,
        0.0,
        45.0,
        -20.0,
        60.0,
        5.0,
        20.0,
        "LCO/graphite: Samsung ICR18650-26C datasheet (4.20 +- 0.05 V, charge 0..45 degC)",
    ),
    "lfp": Envelope(
        2.00,
        3.80,
        0.0,
        50.0,
        -20.0,
        60.0,
        5.0,
        20.0,
        "LFP/graphite: IFR26650 (A123 ANR26650M1-class) datasheets (3.65 V, 2.0 V cut-off, 5C/20C)",
    ),
    "lto": Envelope(
        1.50,
        2.90,
        -30.0,
        60.0,
        -30.0,
        60.0,
        10.0,
        20.0,
        "LTO: Toshiba SCiB (1.5..2.8 V, -30 degC) and Nichicon SLB (20C, -30..60 degC) datasheets",
    ),
}

# Longest trip delay per protection section, s. The AFE's own hardware protection never waits longer than its
# largest settable delay (TI bq769x0, SLUSBK2, PROTECT3: OV_DELAY up to 8 s, UV_DELAY up to 16 s; PROTECT2:
# OCD_DELAY up to 1280 ms; the same tables as bms_ros/afe/bq769x0/protection_codes.py, which core may not
# import): a software trip delayed much beyond those adds no filtering, only exposure.
MAX_DELAY_S: dict[str, float] = {
    "cell_overvoltage": 10.0,  # bq769x0 OV_DELAY max 8 s, rounded up
    "cell_overvoltage_hard": 10.0,
    "pack_overvoltage": 10.0,
    "cell_undervoltage": 30.0,  # bq769x0 UV_DELAY max 16 s; load sags may need filtering, x2
    "cell_undervoltage_deep": 30.0,
    "pack_undervoltage": 30.0,
    "charge_overcurrent": 30.0,  # a charger fault lasting 30 s at <= 5C adds < 5 % SoC
    "discharge_overcurrent": 2.0,  # the fast level: bq769x0 OCD_DELAY max 1.28 s, rounded up
    "discharge_overcurrent_sustained": 30.0,
    "charge_overtemperature": 60.0,  # cell thermal time constants are minutes; 60 s is a fraction of one
    "charge_undertemperature": 60.0,
    "discharge_overtemperature": 60.0,
    "discharge_undertemperature": 60.0,
    "afe_overtemperature": 60.0,
    # a self-discharge estimate is a fit over a 20-minute window (core.estimation.self_discharge); the delay
    # only confirms it: beyond 10 min it adds nothing but exposure to the short
    "internal_short": 600.0,
}
# Any other section (flags: short circuit, AFE flags, implausible data, sensor loss, comm loss; and sections
# added later) trips within this.
DEFAULT_MAX_DELAY_S = 10.0
# Report-only sections (no FET action): no delay maximum.
NO_DELAY_LIMIT = frozenset({"cell_imbalance"})
# FETs open when no valid sample arrived for this long: at most 5 s (the hardware protection alone guards the
# pack meanwhile; 5 s is 50 samples at the default 10 Hz).
MAX_STALE_TIMEOUT_S = 5.0
# After a fault reset an AFE status flag still read back is ignored this long (the chip needs a few reads to
# clear it): at most 10 s, or a hardware trip that is real and new goes unseen for longer than any trip delay
# above allows.
MAX_FLAG_CLEAR_TIMEOUT_S = 10.0

VOLTAGE_SECTIONS = (
    "cell_overvoltage",
    "cell_overvoltage_hard",
    "cell_undervoltage",
    "cell_undervoltage_deep",
    "pack_overvoltage",
    "pack_undervoltage",
)
CHARGE_TEMPERATURE_SECTIONS = ("charge_overtemperature", "charge_undertemperature")
DISCHARGE_TEMPERATURE_SECTIONS = ("discharge_overtemperature", "discharge_undertemperature")
CHARGE_CURRENT_SECTIONS = ("charge_overcurrent",)
DISCHARGE_CURRENT_SECTIONS = ("discharge_overcurrent", "discharge_overcurrent_sustained")

# Plausibility of a user-declared envelope (any lithium-ion cell).
_PLAUSIBLE = {"cell_voltage": (0.5, 5.0), "temperature": (-60.0, 100.0), "c": (0.01, 100.0)}


def builtin_envelope(chemistry: str) -> Envelope:
    try:
        return ENVELOPES[chemistry]
    except KeyError:
        raise ConfigError(f"pack.chemistry: no envelope for chemistry {chemistry!r}") from None


def envelope_for(chemistry: str, table_path: str = "") -> Envelope:
    """The envelope of ``chemistry``, with the ``envelope:`` section of a YAML chemistry table applied.

    Raises ConfigError (naming ``estimation.chemistry_table``) when the table or its envelope is unusable.
    """
    base = builtin_envelope(chemistry)
    if not table_path or Path(table_path).suffix.lower() not in (".yaml", ".yml"):
        return base
    import yaml

    where = f"estimation.chemistry_table: {table_path}"
    try:
        doc = yaml.safe_load(Path(table_path).read_text())
    except OSError as e:
        raise ConfigError(f"{where}: cannot read chemistry table: {e.strerror or e}") from None
    except Exception as e:  # yaml errors, bad dates, deep nesting: one line
        raise ConfigError(f"{where}: not valid YAML ({type(e).__name__})") from None
    if not isinstance(doc, Mapping) or doc.get("envelope") is None:
        return base
    return parse_envelope(doc["envelope"], base, where)


def parse_envelope(section: Any, base: Envelope, where: str) -> Envelope:
    """``base`` with the keys of a declared ``envelope:`` mapping; checked for plausibility."""
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: envelope must be a mapping of {', '.join(_FIELDS)}")
    unknown = sorted(str(k) for k in section if k not in _FIELDS and k != "source")
    if unknown:
        raise ConfigError(f"{where}: envelope: unknown keys {unknown}; known: {', '.join(_FIELDS)}, source")
    changes: dict[str, Any] = {}
    for key in _FIELDS:
        if key not in section:
            continue
        x = section[key]
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ConfigError(f"{where}: envelope.{key}: expected a finite number, got {x!r}")
        lo, hi = _PLAUSIBLE[_kind(key)]
        if not lo <= x <= hi:
            raise ConfigError(
                f"{where}: envelope.{key}: {x} is not plausible for a lithium-ion cell (allowed {lo}..{hi})"
            )
        changes[key] = float(x)
    changes["source"] = str(section.get("source") or f"{where} (no source given)")
    env = dataclasses.replace(base, **changes)
    for lo_key, hi_key in (
        ("cell_voltage_min", "cell_voltage_max"),
        ("charge_temperature_min", "charge_temperature_max"),
        ("discharge_temperature_min", "discharge_temperature_max"),
    ):
        if not getattr(env, lo_key) < getattr(env, hi_key):
            raise ConfigError(
                f"{where}: envelope.{lo_key} ({getattr(env, lo_key)}) must be below "
                f"envelope.{hi_key} ({getattr(env, hi_key)})"
            )
    return env


_FIELDS = tuple(f.name for f in dataclasses.fields(Envelope) if f.name != "source")


def _kind(key: str) -> str:
    return "cell_voltage" if key.startswith("cell_voltage") else "temperature" if "temperature" in key else "c"


def violations(protection: Any, env: Envelope, design_capacity_ah: float, chemistry: str) -> list[str]:
    """Every protection setting outside ``env``, one line each naming the parameter, its value and the limit.

    ``protection`` is a ProtectionConfig (duck-typed: sections are read by name, so sections added later are
    covered by the delay rule).
    """
    out: list[str] = []
    what = f"the {chemistry} envelope"

    def outside(name: str, value: float, lo: float, hi: float, unit: str, limit: str) -> None:
        if not lo <= value <= hi:
            out.append(
                f"protection.{name}: {value:g} {unit} is outside {what}: {limit} {lo:g}..{hi:g} {unit} ({env.source})"
            )

    for sec in VOLTAGE_SECTIONS:
        s = getattr(protection, sec, None)
        for key in ("threshold", "release"):
            if s is not None and hasattr(s, key):
                outside(
                    f"{sec}.{key}", getattr(s, key), env.cell_voltage_min, env.cell_voltage_max, "V", "cell voltage"
                )
    temperature_windows: tuple[tuple[tuple[str, ...], float, float, str], ...] = (
        (CHARGE_TEMPERATURE_SECTIONS, env.charge_temperature_min, env.charge_temperature_max, "charging temperature"),
        (
            DISCHARGE_TEMPERATURE_SECTIONS,
            env.discharge_temperature_min,
            env.discharge_temperature_max,
            "discharge temperature",
        ),
    )
    for secs, lo, hi, window in temperature_windows:
        for sec in secs:
            s = getattr(protection, sec, None)
            for key in ("threshold", "release"):
                if s is not None and hasattr(s, key):
                    outside(f"{sec}.{key}", getattr(s, key), lo, hi, "degC", window)
    current_limits: tuple[tuple[tuple[str, ...], float, str], ...] = (
        (CHARGE_CURRENT_SECTIONS, env.max_charge_c, "charge"),
        (DISCHARGE_CURRENT_SECTIONS, env.max_discharge_c, "discharge"),
    )
    for secs, c_max, direction in current_limits:
        limit_a = c_max * design_capacity_ah
        for sec in secs:
            s = getattr(protection, sec, None)
            if s is not None and s.threshold > limit_a:
                out.append(
                    f"protection.{sec}.threshold: {s.threshold:g} A is above {what}'s largest {direction} "
                    f"trip, {c_max:g}C of pack.design_capacity_ah {design_capacity_ah:g} Ah = {limit_a:g} A "
                    f"({env.source})"
                )
    for f in dataclasses.fields(protection):
        s = getattr(protection, f.name)
        if f.name in NO_DELAY_LIMIT or not dataclasses.is_dataclass(s) or not hasattr(s, "delay"):
            continue
        limit = MAX_DELAY_S.get(f.name, DEFAULT_MAX_DELAY_S)
        if s.delay > limit:
            out.append(
                f"protection.{f.name}.delay: {s.delay:g} s is longer than the longest safe trip delay, "
                f"{limit:g} s (see bms_ros.core.envelope.MAX_DELAY_S)"
            )
    stale = getattr(protection, "stale_timeout", None)
    if stale is not None and stale > MAX_STALE_TIMEOUT_S:
        out.append(
            f"protection.stale_timeout: {stale:g} s is longer than the longest safe time without data, "
            f"{MAX_STALE_TIMEOUT_S:g} s"
        )
    ignore = getattr(protection, "afe_flag_clear_timeout", None)
    if ignore is not None and ignore > MAX_FLAG_CLEAR_TIMEOUT_S:
        out.append(
            f"protection.afe_flag_clear_timeout: {ignore:g} s is longer than an AFE flag may be ignored "
            f"after a reset, {MAX_FLAG_CLEAR_TIMEOUT_S:g} s"
        )
    return out


def current_trip_defaults(chemistry: str, design_capacity_ah: float, defaults: Mapping[str, float]) -> dict[str, float]:
    """The over-current trip defaults (sized for the default 10 Ah pack) scaled down, threshold and release
    alike, so that they lie inside the envelope of a smaller pack; ``defaults``: dotted name -> default.
    Explicit settings are not touched (they are checked instead)."""
    env = ENVELOPES.get(chemistry)
    if env is None:
        return {}
    out: dict[str, float] = {}
    for secs, c_max in ((CHARGE_CURRENT_SECTIONS, env.max_charge_c), (DISCHARGE_CURRENT_SECTIONS, env.max_discharge_c)):
        limit = c_max * design_capacity_ah
        names = [f"protection.{s}.{k}" for s in secs for k in ("threshold", "release")]
        largest = max(float(defaults[f"protection.{s}.threshold"]) for s in secs)
        if largest > limit:
            k = limit / largest  # one factor per direction keeps the fast level above the sustained one
            out.update({n: round(float(defaults[n]) * k, 6) for n in names})
    return out
