"""The pack's own BMS in simulation (issue 17): autonomous protection and FETs of a smart pack, shared by the
SBS, JBD and Daly emulators.

Unlike a bare AFE, a smart pack switches its FETs on by itself whenever its own protections allow; a host may
only add a block (JBD 0xE1 / Daly 0xDA-0xD9 style). ``trip(name)`` latches a protection from outside (the fault
injector's "pack trips its own protection") until ``release(name)``.

    bms = SimPackBms(pack)
    bms.step(0.1)            # after pack.step: evaluate protections, drive pack.charge_fet / discharge_fet
"""

from __future__ import annotations

from dataclasses import dataclass

from bms_ros.afe.sim.pack_model import PackModel

__all__ = ["PROTECTIONS", "SimPackBms", "SimPackThresholds"]

# protection name -> (blocks charge, blocks discharge); the names are the pack_report.protection words
PROTECTIONS: dict[str, tuple[bool, bool]] = {
    "cell_overvoltage": (True, False),
    "cell_undervoltage": (False, True),
    "charge_overtemperature": (True, False),
    "discharge_overtemperature": (True, True),
    "charge_overcurrent": (True, False),
    "discharge_overcurrent": (False, True),
    "short_circuit": (True, True),
    "frontend_error": (True, True),
}


# emulator choices (a pack maker's typical settings, not taken from a datasheet): over-current trips in C
CHARGE_OC_C = 3.0  # 1/h: charge over-current trip = 3 x capacity (A per Ah)
DISCHARGE_OC_C = 6.0  # 1/h: discharge over-current trip = 6 x capacity
TEMP_MARGIN_K = 5.0  # the pack's temperature trips sit 5 K beyond the chemistry's window


@dataclass
class SimPackThresholds:
    """The pack maker's settings (V per cell, degC, A); defaults from the chemistry (``for_pack``)."""

    cell_ov: float = 4.25
    cell_ov_release: float = 4.15
    cell_uv: float = 2.6
    cell_uv_release: float = 2.9
    charge_temp_max: float = 50.0
    discharge_temp_max: float = 65.0
    temp_hysteresis: float = 5.0
    charge_overcurrent: float = 100.0
    discharge_overcurrent: float = 200.0

    @classmethod
    def for_pack(cls, pack: PackModel) -> SimPackThresholds:
        c = pack.chem
        # between our soft and hard limits: the pack's own protection is the backstop behind the core's
        return cls(
            cell_ov=(c.cell_ov + c.cell_ov_hard) / 2,
            cell_ov_release=c.cell_ov_release,
            cell_uv=(c.cell_uv + c.cell_uv_deep) / 2,
            cell_uv_release=c.cell_uv_release,
            charge_temp_max=c.charge_temp_max + TEMP_MARGIN_K,
            discharge_temp_max=c.discharge_temp_max + TEMP_MARGIN_K,
            charge_overcurrent=CHARGE_OC_C * pack.cfg.capacity_ah,
            discharge_overcurrent=DISCHARGE_OC_C * pack.cfg.capacity_ah,
        )


class SimPackBms:
    def __init__(self, pack: PackModel, thresholds: SimPackThresholds | None = None):
        self.pack = pack
        self.th = thresholds or SimPackThresholds.for_pack(pack)
        self.active: set[str] = set()  # protections tripped by the measured state
        self.forced: set[str] = set()  # protections tripped from outside (fault injection)
        self.host_block_charge = False  # host command: keep the charge FET open
        self.host_block_discharge = False
        self.soc_report_error = 0.0  # the pack's own SoC gauge is off by this much (0..1)
        self.cycles = 0.0
        self._last_soc = float(pack.soc.mean())
        self.drive_fets()

    @property
    def protections(self) -> set[str]:
        return self.active | self.forced

    def trip(self, name: str) -> None:
        if name not in PROTECTIONS:
            raise ValueError(f"unknown pack protection {name!r}; one of {sorted(PROTECTIONS)}")
        self.forced.add(name)
        self.drive_fets()

    def release(self, name: str | None = None) -> None:
        self.forced.discard(name) if name else self.forced.clear()
        self.drive_fets()

    def charge_allowed(self) -> bool:
        return not any(PROTECTIONS[p][0] for p in self.protections)

    def discharge_allowed(self) -> bool:
        return not any(PROTECTIONS[p][1] for p in self.protections)

    def drive_fets(self) -> None:
        self.pack.charge_fet = self.charge_allowed() and not self.host_block_charge
        self.pack.discharge_fet = self.discharge_allowed() and not self.host_block_discharge

    def _hyst(self, name: str, trip: bool, release: bool) -> None:
        if trip:
            self.active.add(name)
        elif release:
            self.active.discard(name)

    def step(self, dt: float) -> None:
        """Evaluate the pack's protections on its present state (instantaneous, with release hysteresis)."""
        p, th = self.pack, self.th
        v = p.cell_voltages()
        t, i = float(p.temperature_c), float(p.current_a)
        self._hyst("cell_overvoltage", float(v.max()) > th.cell_ov, float(v.max()) < th.cell_ov_release)
        self._hyst("cell_undervoltage", float(v.min()) < th.cell_uv, float(v.min()) > th.cell_uv_release)
        self._hyst("charge_overtemperature", t > th.charge_temp_max, t < th.charge_temp_max - th.temp_hysteresis)
        self._hyst(
            "discharge_overtemperature", t > th.discharge_temp_max, t < th.discharge_temp_max - th.temp_hysteresis
        )
        self._hyst("charge_overcurrent", i > th.charge_overcurrent, False)
        self._hyst("discharge_overcurrent", -i > th.discharge_overcurrent, False)
        if p.external_short and p.discharge_fet:
            self.active.add("short_circuit")
        elif not p.external_short and "short_circuit" in self.active:
            self.active.discard("short_circuit")  # released once the short is gone (board auto-recovery)
        if not p.external_short:
            self.active.discard("discharge_overcurrent")
        if i <= 0.0:
            self.active.discard("charge_overcurrent")
        soc = float(p.soc.mean())
        self.cycles += max(0.0, self._last_soc - soc)
        self._last_soc = soc
        self.drive_fets()

    def reported_soc(self) -> float:
        """The pack's own gauge (0..1): the mean cell SoC plus the configured gauge error."""
        return min(1.0, max(0.0, float(self.pack.soc.mean()) + self.soc_report_error))
