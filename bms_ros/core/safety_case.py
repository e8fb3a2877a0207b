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
"""

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


ROWS: tuple[Row, ...] = (
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
    # ---- temperature --------------------------------------------------------------------------------------------
    Row(
        "TC-1",
        "Charging too hot (SEI growth, runaway onset)",
        "Hot ambient, cooling failure",
        ("CHARGE_OVERTEMPERATURE",),
        "hottest valid thermistor > threshold",
        "charge",
        _t("CHARGE_OVERTEMPERATURE"),
    ),
    Row(
        "TC-2",
        "Charging too cold (lithium plating)",
        "Charging below 0 degC",
        ("CHARGE_UNDERTEMPERATURE",),
        "coldest valid thermistor < threshold",
        "charge",
        (
            *_t("CHARGE_UNDERTEMPERATURE"),
            "test/core/test_closed_loop.py::"
            "test_charge_request_at_minus_5_is_refused_and_reported_while_discharge_keeps_working",
        ),
    ),
    Row(
        "TD-1",
        "Discharging too hot",
        "Hot ambient, cooling failure, sustained load",
        ("DISCHARGE_OVERTEMPERATURE",),
        "hottest valid thermistor > threshold",
        "both",
        _t("DISCHARGE_OVERTEMPERATURE"),
    ),
    Row(
        "TD-2",
        "Discharging too cold (high resistance, deep local discharge)",
        "Cold ambient",
        ("DISCHARGE_UNDERTEMPERATURE",),
        "coldest valid thermistor < threshold",
        "both",
        _t("DISCHARGE_UNDERTEMPERATURE"),
    ),
    Row(
        "TA-1",
        "AFE die over-temperature (protection chip out of spec)",
        "Balancing heat, hot board",
        ("AFE_OVERTEMPERATURE",),
        "AFE die temperature > threshold",
        "both",
        _t("AFE_OVERTEMPERATURE"),
    ),
    # ---- cells --------------------------------------------------------------------------------------------------
    Row(
        "CB-1",
        "Cell imbalance (one cell reaches a limit first)",
        "Capacity / self-discharge spread, failed balancing",
        ("CELL_IMBALANCE",),
        "highest - lowest cell > threshold",
        "none",
        _t("CELL_IMBALANCE"),
        other="reported only; the per-cell OV/UV rows protect the outlier cell",
    ),
    Row(
        "IS-1",
        "Soft internal short (latent thermal runaway)",
        "Dendrite, separator damage, particle",
        ("INTERNAL_SHORT", "CELL_IMBALANCE"),
        "a cell's SoC drifts below the others at a self-discharge rate "
        "above a limit (before ISSUE 11: only the voltage spread, after tens of minutes at 1 ohm)",
        "charge",
        (
            f"{_ROBUST}::test_a_soft_internal_short_is_detected_and_latches_charging_off",
            f"{_ROBUST}::test_healthy_cells_with_spread_never_report_an_internal_short",
        ),
        latch=True,
        other="latched: both FETs stay open until a fault reset (a cell with an internal short is for service)",
    ),
    # ---- measurement chain --------------------------------------------------------------------------------------
    Row(
        "MD-1",
        "Protection acting on wrong data",
        "ADC error, bus corruption, wiring, frozen register reads",
        ("IMPLAUSIBLE_DATA",),
        "NaN, cell outside the physical range, sum of cells vs pack voltage, frozen values under current",
        "both",
        (
            *_t("IMPLAUSIBLE_DATA"),
            f"{_P}::test_frozen_readings_under_current_are_implausible",
            f"{_P}::test_cell_outside_physical_range_is_implausible_not_overvoltage",
        ),
    ),
    Row(
        "MD-2",
        "Open sense wire (a cell's voltage unknown; OV/UV blind)",
        "Broken or corroded balance lead",
        ("OPEN_WIRE", "IMPLAUSIBLE_DATA"),
        "0 V / full-scale alternation, or a cell jump the pack sum does not "
        "show (before ISSUE 11: a reading out of the physical range for the whole trip delay)",
        "both",
        (
            f"{_R}[OPEN_WIRE]",
            f"{_P}::test_trips_after_its_delay_and_not_before[OPEN_WIRE]",
            f"{_ROBUST}::test_an_open_sense_wire_reading_0v_every_other_sample_cannot_hold_off_the_trip",
        ),
    ),
    Row(
        "MD-3",
        "Stuck cell reading (OV/UV blind on that cell)",
        "ADC channel or mux failure, cached register",
        ("CELL_READING_STUCK", "IMPLAUSIBLE_DATA"),
        "a cell reading unchanged under current while its "
        "neighbours move (before ISSUE 11: only the sum of cells vs pack voltage, or every value frozen)",
        "both",
        (
            f"{_R}[CELL_READING_STUCK]",
            f"{_P}::test_trips_after_its_delay_and_not_before[CELL_READING_STUCK]",
            f"{_ROBUST}::test_a_stuck_cell_reading_is_detected_before_it_hides_an_overvoltage",
        ),
    ),
    Row(
        "MT-1",
        "Thermistor lost (temperature limits blind)",
        "Open or shorted NTC, connector",
        ("SENSOR_LOSS",),
        "reading NaN or outside [temperature_min, temperature_max]; fewer than min_thermistors",
        "both",
        (
            *_t("SENSOR_LOSS"),
            f"{_P}::test_an_open_thermistor_does_not_hide_the_others",
            f"{_P}::test_a_pack_without_thermistors_is_a_sensor_loss_unless_allowed",
        ),
    ),
    Row(
        "MC-1",
        "AFE communication lost / stale data (all protections blind)",
        "Bus NACK / timeout / CRC bursts, AFE reset, ship mode",
        ("AFE_COMM_LOSS",),
        "failed read; no valid sample for stale_timeout",
        None,
        (
            f"{_P}::test_trips_after_its_delay_and_not_before[AFE_COMM_LOSS]",
            f"{_FET}::test_missing_samples_hold_the_fets_until_stale_then_open_both",
            f"{_FET}::test_stale_by_stamp_gap_alone",
            f"{_FET}::test_missing_sample_never_switches_a_fet_on",
            f"{_SCEN}::test_nack_bursts_are_retried_counted_and_surfaced_without_a_crash",
            "test/nodes/test_consumers.py::test_bus_death_and_return_cuts_no_discharge_and_grows_soc_uncertainty",
        ),
        other="AFE_COMM_LOSS itself is reported only: a loss shorter than stale_timeout changes no FET (the chip "
        "keeps its own protections) and the link's return cuts nothing; FET control opens both FETs when no valid "
        "sample arrived for stale_timeout (independent of POLICY)",
    ),
    Row(
        "MC-2",
        "AFE device fault (protection chip not converting)",
        "XREADY (internal fault), ALERT override",
        ("AFE_DEVICE_FAULT",),
        "bq769x0 DEVICE_XREADY / OVRD_ALERT flag",
        "both",
        (
            *_t("AFE_DEVICE_FAULT"),
            f"{_SCEN}::test_xready_is_reported_then_cleared_after_a_few_seconds_without_turning_fets_on",
        ),
        other="the chip clears both FETs itself on XREADY",
    ),
    # ---- system -------------------------------------------------------------------------------------------------
    Row(
        "SL-1",
        "Operation after a severe abuse (IEC 62619:2022 system lock)",
        "Hard OV, deep UV or over-temperature beyond the lock limits",
        ("SYSTEM_LOCK",),
        "cell voltage / temperature beyond the lock limits",
        "both",
        (
            f"{_R}[SYSTEM_LOCK]",
            f"{_ROBUST}::test_the_system_lock_cannot_be_cleared_by_a_fault_reset_and_survives_restarts",
            f"{_ROBUST}::test_unlock_needs_the_reported_code_and_the_condition_gone",
            f"{_ROBUST}::test_a_thermal_excursion_beyond_the_lock_temperature_locks_the_pack",
            f"{_P}::test_releases_with_hysteresis_or_latches[CELL_OVERVOLTAGE_HARD]",
        ),
        latch=True,
        other="~/reset_faults cannot clear it; only ~/unlock with the code reported at the lock (persisted with "
        "it); the lock event is logged with its values",
    ),
    Row(
        "TI-1",
        "A trip delay restarted or skipped by the clock",
        "Clock stepped back (NTP, RTC reset) or forward (suspend)",
        (),
        "sample stamps: gap > stale_timeout; time going backwards",
        None,
        (
            f"{_FET}::test_stale_by_stamp_gap_alone",
            f"{_ROBUST}::test_a_clock_step_back_just_after_the_rise_does_not_suspend_the_trip",
            f"{_ROBUST}::test_all_reads_failing_after_a_clock_step_back_goes_stale_and_opens_the_fets",
            f"{_ROBUST}::test_a_forward_jump_under_current_is_unknown_time_not_charge",
            f"{_ROBUST}::test_an_infinite_stamp_does_not_poison_the_estimate",
        ),
        other="a stamp gap beyond stale_timeout opens both FETs; a running trip is never reset by a clock jump; "
        "the estimator treats a gap as unknown time",
    ),
    Row(
        "PS-1",
        "Latched faults forgotten after a restart",
        "Corrupted or partly written state file, power loss while saving",
        (),
        "JSON / schema validation of the state file",
        None,
        (
            f"{_PERS}::test_latched_faults_and_the_fault_log_survive_a_restart",
            f"{_PERS}::test_a_restored_latched_fault_cannot_be_reset_before_its_condition_is_shown_gone",
            f"{_PERS}::test_corrupted_file_warns_moves_it_aside_and_starts_from_defaults",
            f"{_PERS}::test_a_failed_write_leaves_the_old_file_intact_and_no_temp_files",
        ),
        other="atomic writes (rename); a corrupted file is moved aside with a warning and the core starts from "
        "defaults (a latched fault in it is lost: the condition must re-trip)",
    ),
    Row(
        "CH-1",
        "A charger overcharges one cell or charges a cold pack",
        "Charger CV set for a balanced pack while one cell is high; a dock charging below the charge window",
        (),
        "highest cell against cvl.cell_voltage; coldest thermistor against the charge window",
        None,
        (
            f"{_CHG}::test_cvl_holds_the_high_cell_at_its_limit_and_balancing_finishes",
            f"{_CHG}::test_cold_dock_heats_then_charges_inside_the_window_to_the_end",
            f"{_CHG}::test_no_charge_current_below_the_window_even_with_the_fet_on",
            "test/nodes/test_charger_outputs.py::test_can_frames_decode_to_the_nodes_limits_and_state",
        ),
        other="the CVL follows the highest cell (never within 10 mV of the over-voltage trip); the CCL is 0 below "
        "the charge window and 0 while the charge FET is off; both go to the charger on ~/charge_limits and CAN "
        "0x351/0x35C; a limit never overrides a protection",
    ),
    Row(
        "HT-1",
        "The pack heater overheats the pack or heats a faulty one",
        "Thermostat or thermistor failure, heater left on, heating during a fault",
        (),
        "thermistors (coldest for the thermostat, hottest against "
        "heater.max_temperature), fault and warning masks, heating run time",
        None,
        (
            f"{_CHG}::test_heater_never_runs_while_something_forbids_it",
            f"{_CHG}::test_heater_time_limit_holds_until_the_charger_is_disconnected",
            f"{_CHG}::test_heater_thermostat_has_hysteresis",
            "test/nodes/test_charger_outputs.py::test_cold_dock_heater_topic_turns_on_and_charge_is_held_at_zero",
        ),
        other="heater off unless a charger is connected, the data fresh and valid with known temperatures, no "
        "fault but under-temperature, under-voltage or imbalance, and no over-temperature warning; thermostat "
        "with hysteresis; one run lasts at most heater.max_on_time, then off until the charger is disconnected",
    ),
    Row(
        "CF-1",
        "Unsafe configuration (limits outside the cell's envelope, release on the wrong side)",
        "Wrong parameter file, runtime parameter change",
        (),
        "parameter ranges, threshold ordering, chemistry envelope at load and at every runtime change",
        None,
        (
            f"{_P}::test_inconsistent_settings_are_rejected_with_the_parameter_name",
            f"{_P}::test_chemistry_defaults_are_consistent",
            "test/test_config.py::test_bad_values_are_rejected_with_the_parameter_named",
            "test/test_envelope.py::test_an_unsafe_parameter_file_is_rejected_with_a_one_line_reason",
        ),
        other="the configuration is refused with the parameter named; the running configuration stays",
    ),
)
