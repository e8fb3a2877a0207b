"""Shared helpers for the smart-pack tests (issue 17)."""

from bms_ros.afe.config import AfeConfig
from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.afe.sim.pack_sims import make_simulated_pack
from bms_ros.core.chemistry import get_chemistry


def make_pack(cells: int = 4, soc: float = 0.6, load: float = 2.0, chemistry: str = "nmc") -> PackModel:
    pack = PackModel(
        get_chemistry(chemistry), PackModelConfig(cell_count=cells, capacity_ah=5.0, initial_soc=soc, seed=1)
    )
    pack.load_a = load
    return pack


def simulated(kind: str, cells: int = 4, **afe):
    pack = make_pack(cells)
    return pack, make_simulated_pack(kind, pack, AfeConfig(**afe))


def read_n(src, n: int, t0: float = 0.0, dt: float = 0.1):
    s = None
    for k in range(n):
        s = src.read(t0 + k * dt)
    return s
