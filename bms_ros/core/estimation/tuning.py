"""The state estimator's decision constants, each with its unit and where it comes from.

Each is a tuning value of this estimator (chosen on the bench cases, ``bench/README``) unless a source is given;
the configurable ones are in ``EstimationConfig``. Values must not change without re-recording the golden outputs.
"""

from __future__ import annotations

S_PER_H = 3600.0  # s per hour (Ah <-> A s)
S_PER_DAY = 86400.0  # s per day

# --- time between samples ----------------------------------------------------------------------------------
MAX_STEP_S = 10.0  # s: over longer steps the present current is held, not averaged with the previous
# Longer intervals between usable samples are unknown time (core.timebase.GAP_S): the current is not integrated
# over them; the SoC uncertainty grows as if up to GAP_UNKNOWN_C_RATE (1-sigma) flowed either way.
GAP_UNKNOWN_C_RATE = 1.0  # C
GAP_RESUME_DT_S = 0.1  # s: the filter resumes after a gap as after one ordinary read period (10 Hz)
SOC_VAR_MAX = 1.0 / 12.0  # SoC^2: a SoC known only to lie in [0, 1] (uniform variance): the most a gap adds

# --- the filter's noise --------------------------------------------------------------------------------------
RC_NOISE_FLOOR_V = 5e-4  # V, 1-sigma: least process noise of the RC voltages (keeps them adaptable at 0 A)
NOISE_REF_DT_S = 1.0  # s: voltage_noise is the 1 s sample's; faster samples are weighted as less independent
MODEL_ERROR_SIGMAS = 2.0  # sigmas of voltage_model_error the slow RC state carries that are not current-driven
RC_BOUND_SIGMAS = 3.0  # the slow RC state's bound includes this many voltage_model_error
RC_ENVELOPE_ERRORS = 2.0  # the RC bound allows this many model_error_fraction above R times the current envelope

# --- current offset --------------------------------------------------------------------------------------------
OFFSET_CLAMP_SIGMA = 3.0  # an offset beyond this many sigma of its specification is the filter explaining
# something else (3 sigma: the usual bound of a specified sensor error)
OPEN_FET_MAX_C = 0.05  # C: with both FETs open a reading below this is taken as pure offset ...
OPEN_FET_OFFSET_STD_C = 0.002  # C, 1-sigma: ... with this uncertainty (leakage and balancing currents)

# --- resistance steps and the SoC from voltage --------------------------------------------------------------
R_STEP_MAX_DT_S = 2.0  # s: longer steps mix R0 with RC relaxation; no resistance-step observation
MID_SOC = 0.5  # SoC at which the RC prior and an uninitialised inversion take the resistances
MIN_OCV_SLOPE_V = 1e-6  # V per unit SoC: below this the OCV says nothing (avoids a division by zero)
MAX_OCV_SOC_STD = 0.1  # SoC, 1-sigma: an inversion less certain than this is reported as NaN (flat OCV)

# --- start-up ----------------------------------------------------------------------------------------------------
START_STD_MIN = 0.01  # SoC, 1-sigma: least start-up uncertainty from a rested OCV (rest length unknown)
START_OCV_SIGMAS = 2.0  # ... which is this many times the OCV's own sigma (the rest may have been short)
NO_INFO_SOC_STD = 1.0  # SoC, 1-sigma where the OCV says nothing (flat): no information, the prior rules
SELF_DISCHARGE_STD_PER_DAY = 0.0005  # SoC, 1-sigma added per day of unrecorded time (self-discharge spread)
UNKNOWN_OFF_STD = 0.02  # SoC, 1-sigma added when the time off is unknown (no saved stamp, or the clock went back)
UNKNOWN_OFF_VAR_SCALE = 4.0  # ... and the start-up rest check then widens the OCV's variance by this factor
STARTUP_SIGMAS = 3.0  # a saved SoC beyond this many sigma of the rested voltages' SoC is replaced
OFFSET_STD_KEEP = 0.5  # a saved offset's std is at least this fraction of the specified one
