"""Entry point of the state estimator used by the core (``bms_ros.core.bms``); see core.estimation."""

from bms_ros.core.estimation.estimator import StateEstimator, resolve_chemistry

__all__ = ["StateEstimator", "resolve_chemistry"]
