"""bq769x2 protection settings: SI values <-> data-memory codes (safe-side quantisation), and reading helpers.

Every threshold is rounded to the side that trips earlier (OV and currents down, UV up, delays shorter) and
clamped to the chip's range [LS2 configure_* ranges, see registers]; the effective SI values are returned so the
node can report what the chip really enforces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from bms_ros.afe.bq769x2 import registers as r
from bms_ros.afe.bq769x2.interface import i1, i2, u1, u2
from bms_ros.core.types import AfeFlag, HardwareProtection


@dataclass(frozen=True)
class Bq769x2Protection:
    """Everything the bq769x2 enforces on its own (SI units, currents as magnitudes).

    ``base`` carries the thresholds every AFE has (``HardwareProtection``, from the node's SI settings); the rest
    are bq769x2 extras the core has no setting for yet. Their defaults are this driver's choice (LibreSolar
    leaves them to the board's devicetree): OCC 20 A, OT 55/60 degC, UT 0/-20 degC; set them for your pack.
    """

    base: HardwareProtection = field(default_factory=HardwareProtection)
    cell_overvoltage_recovery: float = 0.1  # V below COV before it recovers (hysteresis)
    cell_undervoltage_recovery: float = 0.1  # V above CUV
    charge_overcurrent: float = 20.0  # A, OCC
    charge_overcurrent_delay: float = 0.1  # s
    discharge_overcurrent2: float = math.nan  # A, OCD2; NaN: 1.5 x OCD1 (clamped)
    discharge_overcurrent2_delay: float = 0.02  # s
    short_circuit_recovery: float = 5.0  # s, SCD recovers after this [LS2R SCD_RECOV_TIME unit s]
    recovery_time: float = 3.0  # s, Protection:Recovery:Time [LS2R PROT_RECOVERY_TIME unit s]
    charge_overtemperature: float = 55.0  # degC OTC
    discharge_overtemperature: float = 60.0  # degC OTD
    charge_undertemperature: float = 0.0  # degC UTC
    discharge_undertemperature: float = -20.0  # degC UTD
    temperature_delay: float = 2.0  # s, all four
    temperature_recovery: float = 5.0  # degC hysteresis


@dataclass(frozen=True)
class ProtectionCodes:
    """Data-memory writes (address, bytes) and the effective settings."""

    writes: tuple[tuple[int, bytes], ...]
    effective: Bq769x2Protection
    clamped: tuple[str, ...]


def _clamp(name: str, code: int, lo_hi: tuple[int, int], clamped: list[str]) -> int:
    lo, hi = lo_hi
    if code < lo or code > hi:
        clamped.append(name)
    return max(lo, min(hi, code))


def encode_protection(p: Bq769x2Protection, shunt_ohm: float) -> ProtectionCodes:
    """Codes for COV/CUV/OCC/OCD1/OCD2/SCD with delays and recovery, OTC/OTD/UTC/UTD."""
    b = p.base
    c: list[str] = []  # names clamped to the chip's range
    eps = 1e-9
    cov = _clamp("cell_overvoltage", math.floor(b.cell_overvoltage / r.CELL_PROT_LSB_V + eps), r.COV_CODES, c)
    cuv = _clamp("cell_undervoltage", math.ceil(b.cell_undervoltage / r.CELL_PROT_LSB_V - eps), r.CUV_CODES, c)
    covh = _clamp("cov_recovery", round(p.cell_overvoltage_recovery / r.CELL_PROT_LSB_V), r.HYST_CODES, c)
    cuvh = _clamp("cuv_recovery", round(p.cell_undervoltage_recovery / r.CELL_PROT_LSB_V), r.HYST_CODES, c)
    covd = _clamp("cov_delay", math.floor(b.cell_overvoltage_delay / r.VOLT_DELAY_LSB_S + eps), r.VOLT_DELAY_CODES, c)
    cuvd = _clamp("cuv_delay", math.floor(b.cell_undervoltage_delay / r.VOLT_DELAY_LSB_S + eps), r.VOLT_DELAY_CODES, c)

    def oc(name: str, amps: float, rng: tuple[int, int]) -> int:
        return _clamp(name, math.floor(amps * shunt_ohm / r.OC_LSB_V + eps), rng, c)

    def oc_delay(name: str, s: float) -> int:
        return _clamp(name, math.floor((s - r.OC_DELAY_BASE_S) / r.VOLT_DELAY_LSB_S + eps), r.OC_DELAY_CODES, c)

    occ, occd = (
        oc("charge_overcurrent", p.charge_overcurrent, r.OCC_CODES),
        oc_delay("occ_delay", p.charge_overcurrent_delay),
    )
    ocd1 = oc("discharge_overcurrent", b.discharge_overcurrent, r.OCD_CODES)
    ocd1d = oc_delay("ocd1_delay", b.discharge_overcurrent_delay)
    ocd2_a = 1.5 * b.discharge_overcurrent if math.isnan(p.discharge_overcurrent2) else p.discharge_overcurrent2
    ocd2, ocd2d = (
        oc("discharge_overcurrent2", ocd2_a, r.OCD_CODES),
        oc_delay("ocd2_delay", p.discharge_overcurrent2_delay),
    )
    scd_v = b.short_circuit * shunt_ohm
    scd = max([0] + [i for i, v in enumerate(r.SCD_THRESHOLDS_V) if v <= scd_v + eps])
    if r.SCD_THRESHOLDS_V[0] > scd_v + eps:
        c.append("short_circuit")
    scdd = _clamp(
        "short_circuit_delay", math.floor(b.short_circuit_delay / r.SCD_DELAY_LSB_S + eps) + 1, r.SCD_DELAY_CODES, c
    )
    temps = {}
    for name, val in (
        ("otc", p.charge_overtemperature),
        ("otd", p.discharge_overtemperature),
        ("utc", p.charge_undertemperature),
        ("utd", p.discharge_undertemperature),
    ):
        temps[name] = _clamp(name, math.floor(val) if name.startswith("o") else math.ceil(val), r.TEMP_CODES, c)
    hyst = max(1, round(p.temperature_recovery))
    tdelay = max(1, min(255, math.floor(p.temperature_delay)))
    writes = [
        (r.COV_THRESHOLD, u1(cov)),
        (r.COV_DELAY, u2(covd)),
        (r.COV_RECOV_HYST, u1(covh)),
        (r.CUV_THRESHOLD, u1(cuv)),
        (r.CUV_DELAY, u2(cuvd)),
        (r.CUV_RECOV_HYST, u1(cuvh)),
        (r.OCC_THRESHOLD, u1(occ)),
        (r.OCC_DELAY, u1(occd)),
        (r.OCD1_THRESHOLD, u1(ocd1)),
        (r.OCD1_DELAY, u1(ocd1d)),
        (r.OCD2_THRESHOLD, u1(ocd2)),
        (r.OCD2_DELAY, u1(ocd2d)),
        (r.SCD_THRESHOLD, u1(scd)),
        (r.SCD_DELAY, u1(scdd)),
        (r.SCD_RECOV_TIME, u1(max(1, min(255, round(p.short_circuit_recovery))))),
        (r.PROT_RECOVERY_TIME, u1(max(1, min(255, round(p.recovery_time))))),
        (r.OTC_THRESHOLD, i1(temps["otc"])),
        (r.OTC_DELAY, u1(tdelay)),
        (r.OTC_RECOVERY, i1(temps["otc"] - hyst)),
        (r.OTD_THRESHOLD, i1(temps["otd"])),
        (r.OTD_DELAY, u1(tdelay)),
        (r.OTD_RECOVERY, i1(temps["otd"] - hyst)),
        (r.UTC_THRESHOLD, i1(temps["utc"])),
        (r.UTC_DELAY, u1(tdelay)),
        (r.UTC_RECOVERY, i1(temps["utc"] + hyst)),
        (r.UTD_THRESHOLD, i1(temps["utd"])),
        (r.UTD_DELAY, u1(tdelay)),
        (r.UTD_RECOVERY, i1(temps["utd"] + hyst)),
        (r.OCD_RECOV_THRESHOLD, i2(-100)),  # OCD recovers once discharge < 100 mA [TRM OCD Recovery Threshold]
        (r.ENABLED_PROT_A, u1(r.SA_CUV | r.SA_COV | r.SA_OCC | r.SA_OCD1 | r.SA_OCD2 | r.SA_SCD)),
        (r.ENABLED_PROT_B, u1(r.SB_OTC | r.SB_OTD | r.SB_UTC | r.SB_UTD)),
    ]
    eff_base = HardwareProtection(
        cell_overvoltage=cov * r.CELL_PROT_LSB_V,
        cell_overvoltage_delay=covd * r.VOLT_DELAY_LSB_S,
        cell_undervoltage=cuv * r.CELL_PROT_LSB_V,
        cell_undervoltage_delay=cuvd * r.VOLT_DELAY_LSB_S,
        discharge_overcurrent=ocd1 * r.OC_LSB_V / shunt_ohm,
        discharge_overcurrent_delay=r.OC_DELAY_BASE_S + ocd1d * r.VOLT_DELAY_LSB_S,
        short_circuit=r.SCD_THRESHOLDS_V[scd] / shunt_ohm,
        short_circuit_delay=(scdd - 1) * r.SCD_DELAY_LSB_S,
    )
    eff = replace(
        p,
        base=eff_base,
        cell_overvoltage_recovery=covh * r.CELL_PROT_LSB_V,
        cell_undervoltage_recovery=cuvh * r.CELL_PROT_LSB_V,
        charge_overcurrent=occ * r.OC_LSB_V / shunt_ohm,
        charge_overcurrent_delay=r.OC_DELAY_BASE_S + occd * r.VOLT_DELAY_LSB_S,
        discharge_overcurrent2=ocd2 * r.OC_LSB_V / shunt_ohm,
        discharge_overcurrent2_delay=r.OC_DELAY_BASE_S + ocd2d * r.VOLT_DELAY_LSB_S,
        charge_overtemperature=temps["otc"],
        discharge_overtemperature=temps["otd"],
        charge_undertemperature=temps["utc"],
        discharge_undertemperature=temps["utd"],
        temperature_delay=float(tdelay),
        temperature_recovery=float(hyst),
    )
    return ProtectionCodes(tuple(writes), eff, tuple(c))


def safety_to_flags(a: int, b: int, c: int) -> AfeFlag:
    """Safety Status A-C as the AfeFlags the core knows (the chip recovers most of them on its own)."""
    flags = AfeFlag.NONE
    if a & r.SA_COV or c & r.SC_COVL:
        flags |= AfeFlag.OVERVOLTAGE
    if a & r.SA_CUV:
        flags |= AfeFlag.UNDERVOLTAGE
    if a & (r.SA_OCD1 | r.SA_OCD2) or c & (r.SC_OCDL | r.SC_OCD3):
        flags |= AfeFlag.OVERCURRENT_DISCHARGE
    if a & r.SA_SCD or c & r.SC_SCDL:
        flags |= AfeFlag.SHORT_CIRCUIT
    if a & r.SA_OCC or b or c & (r.SC_HWDF | r.SC_PTO):
        flags |= AfeFlag.DEVICE_FAULT  # OCC and temperature trips: no AfeFlag of their own yet
    return flags


def kelvin10_to_c(raw: int) -> float:
    """0.1 K direct-command temperature -> degC; 0 (nothing converted) -> NaN."""
    return math.nan if raw <= 0 else raw * 0.1 - r.T0_K
