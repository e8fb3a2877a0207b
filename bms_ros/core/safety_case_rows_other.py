"""The FMEA rows of temperature, the cells, the measurement chain and the system (see core.safety_case)."""

from __future__ import annotations

from bms_ros.core.safety_case_row import _CHG, _FET, _P, _PERS, _R, _ROBUST, _SCEN, Row, _t

OTHER_ROWS: tuple[Row, ...] = (
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
