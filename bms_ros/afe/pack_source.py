"""Smart packs (issue 17): a pack whose own BMS protects it and reports over a bus, behind the AFE interface.

The core runs *supervisory* over a pack source: the pack's own protections stay primary (we cannot program
them), our protections, limits and estimator run on what the pack reports, and the pack's own SoC, capacity,
cycles and protection bits travel beside our estimate in ``PackSample.pack_report`` (never mixed into it).
Commands: a source that takes FET commands (JBD, Daly) gets the core's decisions; one that does not (SBS) gets
nothing, the host services refuse with ``fet_refusal`` and the decisions are only reported. Balancing is the
pack's own business (its balancing mask is reported where the protocol gives it).
"""

from __future__ import annotations

from dataclasses import dataclass

from bms_ros.afe.base import Afe, AfeError
from bms_ros.core.types import AfeFlag, BalancingConstraints, BmsOutput, HardwareProtection

__all__ = ["LinkStats", "PackIdentity", "PackSource", "pack_blocks", "pack_serial"]

# the pack_report.protection words (shared by the backends) that mean the pack's own BMS holds a FET open
_BLOCKS_CHARGE = frozenset(
    {
        "cell_overvoltage",
        "pack_overvoltage",
        "charge_overtemperature",
        "charge_undertemperature",
        "discharge_overtemperature",
        "charge_overcurrent",
        "short_circuit",
        "frontend_error",
        "over_charged",
        "terminate_charge",
        "over_temperature",
    }
)
_BLOCKS_DISCHARGE = frozenset(
    {
        "cell_undervoltage",
        "pack_undervoltage",
        "discharge_overtemperature",
        "discharge_undertemperature",
        "discharge_overcurrent",
        "short_circuit",
        "frontend_error",
        "terminate_discharge",
        "over_temperature",
    }
)


def pack_blocks(words: tuple[str, ...], charge: bool) -> list[str]:
    """The pack's own protections among ``words`` that keep its charge (or discharge) FET open."""
    table = _BLOCKS_CHARGE if charge else _BLOCKS_DISCHARGE
    return [w for w in words if w in table]


def pack_serial(afe: object) -> str:
    """A smart pack's own identity for BatteryState.serial_number (manufacturer, device, serial; '' when the
    source reports no serial, or is an AFE)."""
    ident = getattr(afe, "identity", None)
    if ident is None or not ident.serial:
        return ""
    return " ".join(p for p in (ident.manufacturer, ident.device, ident.serial) if p)


@dataclass
class LinkStats:
    """Per-link counters for diagnostics: every rejected frame is counted by its reason."""

    frames_ok: int = 0
    timeouts: int = 0  # no (complete) answer in time, NACK on SMBus
    checksum_errors: int = 0  # checksum / PEC mismatch
    framing_errors: int = 0  # garbage, bad start/end byte, wrong length, wrong command echo
    implausible: int = 0  # well-formed frame whose values are out of physical range
    resyncs: int = 0  # bytes discarded to find the next frame start

    @property
    def rejects(self) -> int:
        return self.checksum_errors + self.framing_errors + self.implausible

    def as_dict(self) -> dict[str, int]:
        return {
            "frames_ok": self.frames_ok,
            "timeouts": self.timeouts,
            "checksum_errors": self.checksum_errors,
            "framing_errors": self.framing_errors,
            "implausible": self.implausible,
            "resyncs": self.resyncs,
        }


@dataclass(frozen=True)
class PackIdentity:
    """Strings the pack reports about itself (empty when it does not)."""

    manufacturer: str = ""
    device: str = ""
    chemistry: str = ""
    serial: str = ""
    date: str = ""  # ISO yyyy-mm-dd
    hardware: str = ""  # hardware / firmware version string

    def summary(self) -> str:
        parts = [p for p in (self.manufacturer, self.device, self.chemistry, self.hardware) if p]
        if self.serial:
            parts.append(f"s/n {self.serial}")
        if self.date:
            parts.append(self.date)
        return " ".join(parts)


class PackSource(Afe):
    """Base of the smart-pack backends. Subclasses implement ``read`` and, when they accept FET commands,
    ``set_fets`` and set ``accepts_fet_commands``."""

    is_pack_source = True
    accepts_fet_commands = False
    fet_refusal = "this pack's own BMS does not accept FET commands"

    def __init__(self, cell_count: int, thermistor_count: int):
        self._n, self._nts = int(cell_count), int(thermistor_count)
        self.stats = LinkStats()
        self.identity = PackIdentity()

    @property
    def cell_count(self) -> int:
        return self._n

    @property
    def thermistor_count(self) -> int:
        return self._nts

    @property
    def balancing_constraints(self) -> BalancingConstraints:
        # max_per_group=0: no mask but 0 is permitted, so the core never plans host balancing
        return BalancingConstraints(groups=((0, self._n),), max_per_group=0)

    def set_fets(self, charge: bool, discharge: bool) -> None:
        raise AfeError(self.fet_refusal)

    def set_balancing(self, mask: int) -> None:
        if mask:
            raise AfeError("the pack balances its own cells")

    def clear_faults(self, flags: AfeFlag) -> None:
        """The pack's protection bits are its own: they clear when the pack releases them."""

    def configure_protection(self, wanted: HardwareProtection) -> HardwareProtection:
        raise AfeError("a smart pack's own protections are set by its BMS and cannot be programmed from here")

    def apply(self, out: BmsOutput) -> None:
        """Forward FET decisions only where the pack takes them. After a failed read a command may only open
        (never switch on from stale data): each FET is at most what was last commanded."""
        if not self.accepts_fet_commands:
            return
        s = out.sample
        want = (bool(out.charge_fet), bool(out.discharge_fet))
        if not s.comm_ok:
            last = self.last_fet_command or (False, False)
            want = (want[0] and last[0], want[1] and last[1])
            if want == last:
                return
        elif want == self.last_fet_command and not (
            (s.charge_fet and not want[0]) or (s.discharge_fet and not want[1])
        ):
            return  # unchanged, and the pack honours it (a FET on that we want off: send again)
        self.set_fets(*want)

    last_fet_command: tuple[bool, bool] | None = None  # set by set_fets of sources that accept commands

    def link_counters(self) -> dict[str, int]:
        return self.stats.as_dict()
