"""The schema of the persisted protection state (``StateStore`` section ``"protection"``), checked on restore.

A state file is written by this program, but it is read after crashes, upgrades, hand edits and disk faults,
so every part is checked against its expected type before use. The rules:

* Each part (``latched``, ``fault_log``, ``balancing_time_s``) is checked on its own; a part of the wrong type
  is rejected as a whole with **one** warning naming it and what is wrong, and the other parts are still used.
  Nothing here raises: a bad file never stops the BMS from starting.
* Nothing is coerced silently: ``"3"`` is not a number and ``true`` is not 1.
* ``latched`` (list of fault names) is safety state: a latched fault keeps the FETs open until someone has
  looked at the pack. Losing one is worse than keeping one, so what can be read unambiguously is kept:
  a single name written as a string (``"latched": "CELL_OVERVOLTAGE"``) is taken as that one fault, with a
  warning; known names in a list with some bad entries are kept, the bad entries are reported in one warning.
  What cannot be read (a number, a mapping) is reported at ERROR level: any latch from before the restart
  is lost, and the log says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bms_ros.core.faults import Fault

# fields a fault log entry needs, and their types (FaultEvent.to_dict); other keys (context, detail) are kept
_LOG_REQUIRED: dict[str, tuple[type, ...]] = {"t": (int, float), "fault": (str,), "event": (str,)}


_MAX_LOCK_CODE = 16  # characters; the codes are 4 hex digits


@dataclass
class ProtectionState:
    latched: int = 0  # Fault bits
    fault_log: list[dict[str, Any]] = field(default_factory=list)
    balancing_time_s: np.ndarray | None = None  # None: not stored or rejected (keep the zeros)
    lock_code: str = ""  # the code that ends a SYSTEM_LOCK ("" unknown)
    warnings: list[str] = field(default_factory=list)  # one per rejected or repaired part
    errors: list[str] = field(default_factory=list)  # safety state lost (latches unreadable)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _describe(x: Any) -> str:
    text = repr(x)
    return f"{type(x).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def parse_protection_state(state: Any, cell_count: int) -> ProtectionState:
    """The usable parts of a stored protection section; never raises."""
    out = ProtectionState()
    if state is None:
        return out
    if not isinstance(state, dict):
        out.errors.append(
            f"stored protection state: expected a mapping, got {_describe(state)}; ignored "
            "(latched faults from before the restart are lost)"
        )
        return out
    _latched(state.get("latched"), out)
    _fault_log(state.get("fault_log"), out)
    _balancing(state.get("balancing_time_s"), cell_count, out)
    code = state.get("lock_code", "")
    if isinstance(code, str) and len(code) <= _MAX_LOCK_CODE:
        out.lock_code = code
    else:
        out.warnings.append(
            f"stored protection state: lock_code: expected a short string, got {_describe(code)}; "
            "a stored lock keeps the default code 0000"
        )
    return out


def _latched(value: Any, out: ProtectionState) -> None:
    if value is None:
        return
    where = "stored protection state: latched"
    if isinstance(value, str):
        if value in Fault.__members__ and Fault[value]:
            out.latched = int(Fault[value])
            out.warnings.append(
                f"{where}: a single name {value!r} instead of a list; kept as latched (a latched fault is safety state)"
            )
        else:
            out.errors.append(
                f"{where}: {value!r} is not a fault name; latched faults from before the restart are lost"
            )
        return
    if not isinstance(value, list):
        out.errors.append(
            f"{where}: expected a list of fault names, got {_describe(value)}; latched faults from "
            "before the restart are lost"
        )
        return
    bad = []
    for name in value:
        if isinstance(name, str) and name in Fault.__members__ and Fault[name]:
            out.latched |= int(Fault[name])
        else:
            bad.append(name)
    if bad:
        out.errors.append(
            f"{where}: {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} not a fault name "
            f"({', '.join(_describe(b) for b in bad[:3])}{', ...' if len(bad) > 3 else ''}); ignored, "
            f"the {len(value) - len(bad)} known one(s) are kept"
        )


def _fault_log(value: Any, out: ProtectionState) -> None:
    if value is None:
        return
    where = "stored protection state: fault_log"
    if not isinstance(value, list):
        out.warnings.append(f"{where}: expected a list of entries, got {_describe(value)}; the log starts empty")
        return
    good = [
        e
        for e in value
        if isinstance(e, dict)
        and all(isinstance(e.get(k), types) and not isinstance(e.get(k), bool) for k, types in _LOG_REQUIRED.items())
    ]
    out.fault_log = good
    if len(good) < len(value):
        out.warnings.append(
            f"{where}: {len(value) - len(good)} of {len(value)} entries are not "
            f"{{t: number, fault: str, event: str, ...}}; dropped"
        )


def _balancing(value: Any, cell_count: int, out: ProtectionState) -> None:
    if value is None:
        return
    where = "stored protection state: balancing_time_s"
    if (
        not isinstance(value, list)
        or len(value) != cell_count
        or not all(_is_number(x) and math.isfinite(x) and x >= 0 for x in value)
    ):
        out.warnings.append(
            f"{where}: expected {cell_count} finite numbers >= 0 (seconds), got "
            f"{_describe(value)}; balancing times start from zero"
        )
        return
    out.balancing_time_s = np.array([float(x) for x in value])
