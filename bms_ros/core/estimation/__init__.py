"""State estimation: SoC (EKF per cell), SoH (capacity, resistance, cycles), runtime, persistence.

Modules: config (EstimationConfig), ekf (CellEkf), soh (capacity, resistance), runtime (pack SoC, time to
empty/full, energy), persistence (state file), estimator (StateEstimator, also at bms_ros.core.estimator).
Kept import-free: core.config imports this package's config module.
"""
