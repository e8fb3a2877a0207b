"""The AFE interface: one timestamped read, and a handful of commands."""

from __future__ import annotations

import abc

import numpy as np

from bms_ros.core.types import AfeFlag, BalancingConstraints, BmsOutput, HardwareProtection, PackSample


class AfeError(RuntimeError):
    """The AFE could not be reached or refused a command (after the driver's own retries)."""


class Afe(abc.ABC):
    """A battery analog front end.

    ``read(now)`` never raises for a communication failure: it returns ``PackSample.missing(...)`` with
    ``comm_ok=False`` and the error counters, so the core can treat it as stale data. Commands raise
    AfeError when they could not be applied.
    """

    @property
    @abc.abstractmethod
    def cell_count(self) -> int: ...

    @property
    @abc.abstractmethod
    def thermistor_count(self) -> int: ...

    @property
    @abc.abstractmethod
    def balancing_constraints(self) -> BalancingConstraints: ...

    @abc.abstractmethod
    def read(self, now: float) -> PackSample:
        """Measure everything once. ``now`` is the caller's clock in s (simulators advance to it)."""

    @abc.abstractmethod
    def set_fets(self, charge: bool, discharge: bool) -> None: ...

    @abc.abstractmethod
    def set_balancing(self, mask: int) -> None:
        """Bleed the cells whose bits are set (bit 0 = cell 1); 0 stops balancing."""

    @abc.abstractmethod
    def clear_faults(self, flags: AfeFlag) -> None:
        """Clear latched AFE status flags (write-1-to-clear on bq769x0)."""

    @abc.abstractmethod
    def configure_protection(self, wanted: HardwareProtection) -> HardwareProtection:
        """Program the hardware protections; returns the effective (quantised, safe-side) values."""

    def set_balancing_transfer(self, transfer_a: np.ndarray) -> None:
        """Active (charge-transfer) balancing currents per cell, A; an empty or all-zero array stops it."""
        t = np.asarray(transfer_a, dtype=float)
        if t.size and np.any(t != 0):
            raise AfeError(f"{type(self).__name__} has no active balancer")

    def apply(self, out: BmsOutput) -> None:
        """Carry out one core decision with as few bus writes as possible: clear the AFE flags the core asked
        to clear (before the FETs, so a released trip can switch back on), then FETs and balancing where they
        differ from what was read back (always after a failed read)."""
        s = out.sample
        if out.afe_flags_to_clear:
            self.clear_faults(AfeFlag(out.afe_flags_to_clear))
        if (out.charge_fet, out.discharge_fet) != (s.charge_fet, s.discharge_fet) or not s.comm_ok:
            self.set_fets(out.charge_fet, out.discharge_fet)
        if out.balancing_mask != s.balancing_mask or not s.comm_ok:
            self.set_balancing(out.balancing_mask)
        self.set_balancing_transfer(out.balancing_transfer_a)

    @property
    def status_reason(self) -> str:
        """Why the AFE is not fully working ('' when it is), e.g. a chip that does not answer (bq769x0 in SHIP
        mode) or hardware protection still waiting to be programmed. For diagnostics; the driver keeps retrying."""
        return ""

    def close(self) -> None:  # noqa: B027  (optional hook, not abstract)
        """Release the bus. Default: nothing to release."""
