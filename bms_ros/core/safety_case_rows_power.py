"""The FMEA rows of the power path: overcharge, over-discharge, over-current, short circuit (see core.safety_case)."""

from __future__ import annotations

from bms_ros.core.safety_case_row import _FET, _P, _SCEN, Row, _t

POWER_ROWS: tuple[Row, ...] = (
    # ---- overcharge ---------------------------------------------------------------------------------------------
    Row(
        "OC-1",
        "Overcharge (thermal runaway, Li plating)",
        "Charger CV set too high or charger fault; one cell high from imbalance",
        ("CELL_OVERVOLTAGE",),
        "highest valid cell voltage > threshold",
        "charge",
        (
            *_t("CELL_OVERVOLTAGE"),
            "test/core/test_closed_loop.py::test_charging_at_1c_from_95_percent_stops_at_the_overvoltage_limit",
        ),
    ),
    Row(
        "OC-2",
        "Overcharge beyond the hard limit",
        "Charging goes on past the soft limit: CHG FET failed "
        "closed, regenerative current with CHG on, soft limit misconfigured",
        ("CELL_OVERVOLTAGE_HARD",),
        "highest valid cell voltage > hard threshold",
        "both",
        _t("CELL_OVERVOLTAGE_HARD"),
        latch=True,
    ),
    Row(
        "OC-3",
        "Overcharge seen on the pack voltage",
        "Cell readings low or missing while the pack is high",
        ("PACK_OVERVOLTAGE",),
        "pack voltage / cell count > threshold",
        "charge",
        _t("PACK_OVERVOLTAGE"),
    ),
    Row(
        "OC-4",
        "Overcharge with the host late or absent",
        "Host software hung, bus down while charging",
        ("AFE_HW_OVERVOLTAGE",),
        "bq769x0 OV flag (chip comparator, OV_TRIP / OV_DELAY)",
        "charge",
        (
            *_t("AFE_HW_OVERVOLTAGE"),
            f"{_SCEN}::test_charging_a_full_pack_trips_hardware_ov_within_the_programmed_delay",
            f"{_P}::test_hardware_overvoltage_flag_is_cleared_once_the_cells_are_back_below_release",
        ),
        other="the chip clears CHG itself after OV_DELAY, without the host",
    ),
    # ---- over-discharge -----------------------------------------------------------------------------------------
    Row(
        "OD-1",
        "Over-discharge (copper dissolution, capacity loss)",
        "Load keeps drawing from an empty pack",
        ("CELL_UNDERVOLTAGE",),
        "lowest valid cell voltage < threshold",
        "discharge",
        (*_t("CELL_UNDERVOLTAGE"), f"{_FET}::test_a_host_request_cannot_override_a_protection"),
    ),
    Row(
        "OD-2",
        "Deep discharge (internal short on recharge)",
        "Discharge continued past UV; self-discharge in storage",
        ("CELL_UNDERVOLTAGE_DEEP",),
        "lowest valid cell voltage < deep threshold",
        "both",
        _t("CELL_UNDERVOLTAGE_DEEP"),
        latch=True,
    ),
    Row(
        "OD-3",
        "Over-discharge seen on the pack voltage",
        "Cell readings high or missing while the pack is low",
        ("PACK_UNDERVOLTAGE",),
        "pack voltage / cell count < threshold",
        "discharge",
        _t("PACK_UNDERVOLTAGE"),
    ),
    Row(
        "OD-4",
        "Over-discharge with the host late or absent",
        "Host software hung, bus down under load",
        ("AFE_HW_UNDERVOLTAGE",),
        "bq769x0 UV flag (UV_TRIP / UV_DELAY)",
        "discharge",
        (*_t("AFE_HW_UNDERVOLTAGE"), f"{_SCEN}::test_undervoltage_trips_on_an_empty_pack"),
        other="the chip clears DSG itself after UV_DELAY, without the host",
    ),
    # ---- over-current -------------------------------------------------------------------------------------------
    Row(
        "OI-1",
        "Charge over-current (heating, plating)",
        "Charger CC limit wrong; regenerative braking",
        ("CHARGE_OVERCURRENT",),
        "pack current > threshold",
        "charge",
        _t("CHARGE_OVERCURRENT"),
    ),
    Row(
        "OI-2",
        "Discharge over-current (heating, connector damage)",
        "Stalled motor, wiring fault",
        ("DISCHARGE_OVERCURRENT",),
        "-pack current > fast threshold",
        "discharge",
        _t("DISCHARGE_OVERCURRENT"),
    ),
    Row(
        "OI-3",
        "Sustained discharge over-current (cell and harness heating)",
        "Load above rating for minutes",
        ("DISCHARGE_OVERCURRENT_SUSTAINED",),
        "-pack current > sustained threshold",
        "discharge",
        _t("DISCHARGE_OVERCURRENT_SUSTAINED"),
    ),
    Row(
        "OI-4",
        "Discharge over-current faster than the host",
        "Fault current rising within milliseconds",
        ("AFE_HW_OVERCURRENT",),
        "bq769x0 OCD flag (OCD threshold / delay)",
        "discharge",
        (*_t("AFE_HW_OVERCURRENT"), f"{_SCEN}::test_overcurrent_in_discharge_trips_after_its_delay"),
        other="the chip clears DSG itself after the OCD delay",
    ),
    # ---- short circuit ------------------------------------------------------------------------------------------
    Row(
        "SC-1",
        "External short circuit (arc, fire)",
        "Shorted pack terminals or harness",
        ("SHORT_CIRCUIT",),
        "bq769x0 SCD flag (SCD threshold, 70..400 us)",
        "both",
        (
            *_t("SHORT_CIRCUIT"),
            f"{_SCEN}::test_short_circuit_opens_dsg_within_the_scd_delay",
            "test/core/test_short_circuit_recovery.py::test_short_latches_and_reset_waits_for_the_load_to_go",
        ),
        latch=True,
        other="the chip clears DSG within the SCD delay; reset needs LOAD_PRESENT clear",
    ),
)
