"""Shared test doubles."""

from __future__ import annotations

from bms_ros.core.types import Estimate, PackSample


class FixedEstimator:
    """Stands in for the state estimator where a test is about the protections: SoC 0.5, nothing learned, and a
    state that persists and restores like the real one's."""

    def update(self, sample: PackSample) -> Estimate:
        return Estimate(soc=0.5)

    def set_config(self, config: object) -> None:
        pass

    def state_dict(self) -> dict:
        return {"soc": 0.5}

    def load_state(self, d: dict, now: float | None = None) -> bool:
        return True


def step(bms, s):
    """As the node does: a step, then what it changed persisted (Bms.step itself does no I/O)."""
    out = bms.step(s)
    bms.persist()
    return out


def matched(chemistry):
    """The built-in chemistry ``chemistry`` (a name or a Chemistry) known to be exact: for tests whose ground truth
    *is* the chemistry's model (the generic curve's uncertainty is for real cells, which differ from it)."""
    import dataclasses

    from bms_ros.core.chemistry import get_chemistry

    chem = get_chemistry(chemistry) if isinstance(chemistry, str) else chemistry
    return dataclasses.replace(
        chem, ocv_uncertainty_v=0.0, ocv_soc_uncertainty=0.0, ecm_uncertainty=0.0, hysteresis_v=0.0
    )
