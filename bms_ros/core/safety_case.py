"""The safety case as data: one FMEA row per hazard cause, the fault(s) that detect it, what the reaction must be,
and the tests that show it.

``bms-fmea`` (bms_ros/tools/fmea.py) renders this table as docs/fmea.md and takes the *reaction* column from the
protection policy table (``POLICY``), so the document cannot drift from the code; test/tools/test_fmea.py checks
that the document is the generated text, that every named test exists, that every fault of POLICY is covered and
that POLICY does at least what a row *requires*. The requirement (``requires``, ``latch``) is stated here from
the hazard, independently of POLICY, so a policy change that weakens a reaction fails a test instead of silently
changing the document.

Faults are named by string: rows may name faults that ISSUE 11 adds (OPEN_WIRE, CELL_READING_STUCK,
INTERNAL_SHORT, SYSTEM_LOCK) before they exist in ``Fault``; the renderer marks those as not in POLICY yet.
Pure data, no ROS.

The rows live by area in ``safety_case_rows_power`` and ``safety_case_rows_other``; the row type in
``safety_case_row``.
"""

from __future__ import annotations

from bms_ros.core.safety_case_row import REQUIRES, Row
from bms_ros.core.safety_case_rows_other import OTHER_ROWS
from bms_ros.core.safety_case_rows_power import POWER_ROWS

__all__ = ["REQUIRES", "ROWS", "Row"]

ROWS: tuple[Row, ...] = (*POWER_ROWS, *OTHER_ROWS)
