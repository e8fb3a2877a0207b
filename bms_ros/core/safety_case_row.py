"""The FMEA row type and the shorthands the row tables (``safety_case_rows_*``) share; see core.safety_case."""

from __future__ import annotations

from dataclasses import dataclass

#: a row's required FET reaction: which FET(s) must be off while the fault is active
REQUIRES = ("charge", "discharge", "both", "none")

_P = "test/core/test_protection.py"
_R = "test/core/test_fmea_reactions.py::test_required_fets_open"
_ROBUST = "test/core/test_protection_robust.py"  # written with the ISSUE 11 faults (lead)
_SCEN = "test/afe/test_afe_scenarios.py"
_FET = "test/core/test_fet_control.py"
_PERS = "test/core/test_persistence.py"
_CHG = "test/core/test_charge_limits.py"


@dataclass(frozen=True)
class Row:
    """One FMEA line. ``requires`` is None for rows whose reaction is not a fault's FET policy (time, state
    file, configuration); ``other`` is the part of the reaction that POLICY does not express."""

    id: str
    hazard: str
    cause: str
    faults: tuple[str, ...]
    check: str
    requires: str | None
    tests: tuple[str, ...]
    latch: bool = False
    other: str = ""


def _t(fault: str) -> tuple[str, str]:
    """The two generic tests every present fault has: the core reaction and the trip timing."""
    return f"{_R}[{fault}]", f"{_P}::test_trips_after_its_delay_and_not_before[{fault}]"
