"""State estimation: SoC (EKF per cell), SoH (capacity, resistance, cycles), runtime, persistence.

Modules: config (EstimationConfig), ekf (CellEkf), soh (capacity, resistance), runtime (pack SoC, time to
empty/full, energy), diffusion (SurfaceLag), anchors (rest/full/empty, plateau bound, capacity anchors),
monitor (InnovationMonitor), state (saved state), startup_check (a saved SoC against a seen rest), initialization
(EstimatorStart: reset and the first sample), tuning (the decision constants), estimator (StateEstimator, the
coordinator; also at bms_ros.core.estimator).
Kept import-free: core.config imports this package's config module.
"""
