"""Build the AFE the configuration asks for. The only place that knows every implementation."""
from __future__ import annotations

from bms_ros.afe.base import Afe
from bms_ros.afe.config import AfeConfig, SimConfig
from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.config import PackConfig


def make_pack_model(pack: PackConfig, sim: SimConfig) -> PackModel:
    model = PackModel(get_chemistry(pack.chemistry), PackModelConfig(
        cell_count=pack.cell_count, capacity_ah=pack.design_capacity_ah, initial_soc=sim.initial_soc,
        ambient_c=sim.ambient_temperature, seed=sim.seed))
    apply_sim_inputs(model, sim)
    return model


def apply_sim_inputs(model: PackModel, sim: SimConfig) -> None:
    """The runtime-settable inputs of a simulated pack (load, charger, ambient)."""
    model.load_a = sim.load_current
    model.charger_connected = sim.charger_connected
    model.charger_current_a = sim.charger_current
    model.ambient_c = sim.ambient_temperature
    model.cfg.charger_cv_per_cell = sim.charger_cell_voltage or float("nan")


def make_afe(afe: AfeConfig, pack: PackConfig, sim: SimConfig) -> Afe:
    if afe.type == "sim":
        from bms_ros.afe.sim.simulated_afe import SimulatedAfe
        return SimulatedAfe(make_pack_model(pack, sim), thermistor_count=max(1, afe.thermistor_count))
    if afe.type == "sim_bq769x0":
        from bms_ros.afe.sim.simulated_bq769x0 import SimulatedBq769x0
        return SimulatedBq769x0.from_config(make_pack_model(pack, sim), afe)
    if afe.type == "bq769x0":
        from bms_ros.afe.bq769x0.driver import Bq769x0Afe
        return Bq769x0Afe.open(afe, pack.cell_count)
    raise ValueError(f"afe.type {afe.type!r} has no AFE object (replay samples arrive on a topic)")


def pack_model_of(afe: Afe) -> PackModel | None:
    """The simulated pack behind a simulated AFE, or None on hardware."""
    return getattr(afe, "pack", None)
