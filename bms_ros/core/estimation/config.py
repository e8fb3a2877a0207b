"""Estimation settings (``estimation.*`` parameters).

Currents given as C-rates are multiplied by the pack's design capacity (``0.05`` on a 10 Ah pack is 0.5 A),
so the defaults suit any pack size.
"""

from __future__ import annotations

from dataclasses import dataclass

from bms_ros.core.params import ConfigError, param


@dataclass
class EstimationConfig:
    state_save_period: float = param(
        60.0, "Period of the state file write while running (and at shutdown)", "s", 1.0, 86400.0
    )
    chemistry_table: str = param(
        "", "User OCV/ECM table (CSV or YAML) replacing the chemistry's built-in curve ('' = built-in)"
    )
    # --- filter -----------------------------------------------------------------------------------------
    voltage_noise: float = param(
        0.005, "Cell voltage error of the model + sensor (1-sigma, per second of data)", "V", 1e-4, 1.0, runtime=True
    )
    model_error_fraction: float = param(
        0.3, "Extra voltage error, as a fraction of the modelled overpotential", min=0.0, max=10.0, runtime=True
    )
    model_error_time: float = param(
        300.0,
        "How long the model's overpotential error persists (correlation "
        "time): each sample is worth dt / this of independent data",
        "s",
        0.0,
        86400.0,
        runtime=True,
    )
    voltage_model_error: float = param(
        0.005,
        "Persistent voltage error of the model (OCV table, hysteresis, "
        "diffusion; 1-sigma), carried as a slowly varying state",
        "V",
        0.0,
        0.5,
        runtime=True,
    )
    ocv_flat_slope: float = param(
        0.5,
        "Where the OCV is flatter than this, the voltage error is scaled by "
        "(this / slope): the filter leans on coulomb counting there",
        "V",
        0.0,
        10.0,
        runtime=True,
    )
    current_noise: float = param(
        0.01, "Current sensor gain error / noise (1-sigma, fraction of reading)", min=0.0, max=1.0, runtime=True
    )
    soc_process_noise: float = param(
        2e-4, "SoC random walk not explained by current (1-sigma per sqrt(hour))", min=0.0, max=1.0, runtime=True
    )
    initial_soc: float = param(
        -1.0,
        "Start from this SoC (every cell) instead of the state file's or the first "
        "voltage reading's (the capacity and resistance learned stay); -1: not given",
        min=-1.0,
        max=1.0,
    )
    initial_soc_std: float = param(
        0.05, "SoC uncertainty when initialised from the first voltage reading or initial_soc", min=0.001, max=1.0
    )
    estimate_current_offset: bool = param(True, "Estimate the current sensor offset as a filter state")
    current_offset_std: float = param(0.004, "Prior uncertainty of the current sensor offset (1-sigma)", "C", 0.0, 1.0)
    current_offset_drift: float = param(0.001, "Offset random walk (1-sigma per sqrt(hour))", "C", 0.0, 1.0)
    offset_from_open_fets: bool = param(
        False,
        "With both FETs read back open the true current is zero: learn the "
        "offset from the reading (enable when the AFE reports FET states)",
    )
    outlier_sigma: float = param(
        6.0, "Voltage innovations beyond this many sigma are down-weighted", min=2.0, max=100.0, runtime=True
    )
    # --- rest / anchors -----------------------------------------------------------------------------------
    rest_current: float = param(0.01, "Current below which the pack is at rest", "C", 0.0, 1.0, runtime=True)
    rest_time: float = param(
        1200.0, "Rest needed before the voltage is taken as open-circuit", "s", 10.0, 86400.0, runtime=True
    )
    ocv_error: float = param(
        0.004, "Error of a rested voltage as OCV (relaxation, hysteresis, sensor)", "V", 1e-4, 0.5, runtime=True
    )
    tail_current: float = param(
        0.05, "Charge termination (tail) current: full anchor below this in CV", "C", 0.001, 1.0, runtime=True
    )
    full_voltage_margin: float = param(
        0.03, "The highest cell is in CV within this of the full voltage", "V", 0.0, 0.5, runtime=True
    )
    empty_anchor_current: float = param(
        0.3, "Empty anchor only at discharge currents below this", "C", 0.0, 10.0, runtime=True
    )
    empty_voltage_margin: float = param(
        0.05, "Empty anchor when the lowest cell is within this of empty", "V", 0.0, 1.0, runtime=True
    )
    # --- state of health --------------------------------------------------------------------------------
    learn_capacity: bool = param(True, "Learn capacity from charge throughput between anchors")
    capacity_min_delta_soc: float = param(
        0.2, "Least SoC swing between anchors that updates the capacity", min=0.05, max=1.0
    )
    capacity_rest_time: float = param(
        1200.0,
        "Least rest before a rest anchor may update the capacity (shorter rests still correct the SoC)",
        "s",
        10.0,
        86400.0,
        runtime=True,
    )
    capacity_drift: float = param(0.01, "Capacity change allowed per equivalent full cycle (1-sigma)", min=0.0, max=1.0)
    learn_resistance: bool = param(True, "Learn resistance by recursive least squares on current steps")
    resistance_step: float = param(0.2, "Least current step used by the resistance estimator", "C", 0.01, 10.0)
    resistance_forgetting: float = param(0.995, "RLS forgetting factor per current step", min=0.5, max=1.0)
    # --- runtime ----------------------------------------------------------------------------------------
    load_time_constant: float = param(
        60.0, "Averaging time of the load for time-to-empty / time-to-full", "s", 1.0, 3600.0, runtime=True
    )
    min_runtime_current: float = param(
        0.01, "No time-to-empty/full below this average current", "C", 0.0, 1.0, runtime=True
    )

    def validate(self) -> None:
        if self.initial_soc != -1.0 and not 0.0 <= self.initial_soc <= 1.0:
            raise ConfigError(
                f"estimation.initial_soc: {self.initial_soc} is neither a SoC in [0, 1] nor -1 (not given)"
            )
        if self.rest_current >= self.tail_current:
            raise ConfigError("estimation.rest_current: must be below estimation.tail_current")
