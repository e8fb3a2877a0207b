"""Estimation settings."""
from __future__ import annotations

from dataclasses import dataclass

from bms_ros.core.params import param


@dataclass
class EstimationConfig:
    state_file: str = param("", "Where SoC, learned capacity and cycle count persist ('' = not persisted)")
