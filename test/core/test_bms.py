"""The orchestrator's public surface as the node uses it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.afe.sim.simulated_afe import SimulatedAfe
from bms_ros.core.bms import Bms
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.config import BmsConfig, core_config
from bms_ros.core.faults import Fault
from bms_ros.core.types import AfeFlag, BalancingConstraints, BmsState, PackSample


def sample(
    t: float, cells=(3.7, 3.7, 3.7, 3.7), current: float = 0.0, temp: float = 25.0, flags: AfeFlag = AfeFlag.NONE
) -> PackSample:
    c = np.array(cells, dtype=float)
    return PackSample(
        stamp=t,
        cell_voltages=c,
        pack_voltage=float(c.sum()),
        current=current,
        temperatures=np.array([temp]),
        die_temperature=30.0,
        afe_flags=flags,
    )


def test_accepts_the_package_config_with_its_extra_sections():
    from bms_ros.config import load_config

    cfg = load_config({"pack.chemistry": "lfp", "pack.cell_count": 8})
    bms = Bms(cfg)
    out = bms.step(sample(0.0, cells=[3.3] * 8))
    assert out.charge_fet and out.discharge_fet and out.state == BmsState.STANDBY
    assert cfg.protection.cell_overvoltage.threshold == get_chemistry("lfp").cell_ov


def test_default_dataclass_config_matches_the_nmc_chemistry_defaults():
    assert dataclasses.asdict(BmsConfig().protection) == dataclasses.asdict(core_config({}).protection)


def test_runtime_config_change_applies_to_the_next_step_and_keeps_state():
    bms = Bms(core_config({}))
    for k in range(20):
        bms.step(sample(0.1 * k, cells=[3.7, 3.7, 3.7, 4.2]))
    assert bms.last_output.faults_active == 0
    bms.set_config(
        core_config(
            {
                "protection.cell_overvoltage.threshold": 4.15,
                "protection.cell_overvoltage.release": 4.05,
                "limits.charge_voltage_derate_start": 4.0,
                "balancing.start_voltage": 4.0,
            }
        )
    )
    outs = [bms.step(sample(2.0 + 0.1 * k, cells=[3.7, 3.7, 3.7, 4.2])) for k in range(15)]
    assert outs[-1].faults_active & Fault.CELL_OVERVOLTAGE and not outs[-1].charge_fet
    with pytest.raises(ValueError):
        bms.set_config(core_config({"pack.cell_count": 5}))


def test_balancing_uses_the_constraints_set_from_the_afe():
    cfg = core_config({"balancing.rest_time": 0.0, "balancing.start_voltage": 3.9})
    bms = Bms(cfg)
    bms.balancing_constraints = BalancingConstraints(groups=((0, 4),), max_per_group=1, allow_adjacent=False)
    out = None
    for k in range(3):
        out = bms.step(sample(float(k), cells=[4.0, 4.05, 4.06, 4.07]))
    assert out.balancing_mask == 0b1000 and out.balancing_reason == "balancing"


def test_simulated_afe_applies_fets_bleeding_transfer_and_flag_clearing():
    pack = PackModel(get_chemistry("nmc"), PackModelConfig(cell_count=4))
    afe = SimulatedAfe(pack, start_time=0.0)
    bms = Bms(core_config({"balancing.mode": "active", "balancing.rest_time": 0.0, "balancing.start_voltage": 3.0}))
    pack.soc = np.array([0.80, 0.80, 0.80, 0.90])
    out = bms.step(afe.read(1.0))
    afe.apply(out)
    assert pack.charge_fet and pack.discharge_fet
    assert pack.transfer_a[3] < 0 and pack.transfer_a[:3].sum() > 0
    with pytest.raises(ValueError):
        afe.set_balancing(0b0011)  # adjacent cells in one group
    with pytest.raises(ValueError):
        afe.set_balancing_transfer(np.ones(3))


def test_afe_flags_to_clear_reach_the_node_after_a_reset():
    bms = Bms(core_config({}))
    bms.step(sample(0.0))
    bms.step(sample(0.1, flags=AfeFlag.SHORT_CIRCUIT))
    assert bms.last_output.faults_latched & Fault.SHORT_CIRCUIT
    assert bms.reset_faults(0.15) == (["SHORT_CIRCUIT"], [])
    out = bms.step(sample(0.2, flags=AfeFlag.SHORT_CIRCUIT))
    assert out.afe_flags_to_clear == int(AfeFlag.SHORT_CIRCUIT)


def test_reset_with_nothing_latched_returns_empty_lists():
    bms = Bms(core_config({}))
    bms.step(sample(0.0))
    assert bms.reset_faults(0.0) == ([], [])


def test_invalid_sample_reason_is_reported():
    bms = Bms(core_config({}))
    bms.step(sample(0.0))
    c = np.array([3.7, np.nan, 3.7, 3.7])
    out = bms.step(
        PackSample(stamp=0.1, cell_voltages=c, pack_voltage=14.8, current=0.0, temperatures=np.array([25.0]))
    )
    assert out.invalid_reason == "cell voltage NaN" and out.charge_fet  # held: still fresh
    assert bms.step(PackSample.missing(0.2, 4, 1)).invalid_reason == "AFE read failed"


def test_charge_complete_at_full_voltage_with_a_small_current():
    bms = Bms(core_config({}))
    full = get_chemistry("nmc").full_v
    assert not bms.step(sample(0.0, cells=[full - 0.05] * 4, current=5.0)).charge_complete
    assert bms.step(sample(1.0, cells=[full] * 4, current=0.3)).charge_complete
    assert bms.step(sample(2.0, cells=[full - 0.02] * 4, current=0.0)).charge_complete
    assert not bms.step(sample(3.0, cells=[full - 0.15] * 4, current=-2.0)).charge_complete


def _changed_value(spec, current):
    """Values to try for a runtime parameter, other than its current one and inside its range."""
    if spec.type is bool:
        return [not current]
    if spec.choices:
        return [c for c in spec.choices if c != current]
    lo = spec.min if spec.min is not None else -1e9
    hi = spec.max if spec.max is not None else 1e9
    raw = [current * 1.05, current * 0.95, current + 0.01, current - 0.01, (lo + hi) / 2]
    vals = [spec.type(round(v)) if spec.type is int else v for v in raw]
    return [v for v in vals if lo <= v <= hi and v != current]


def _owners(bms: Bms, section: str) -> list:
    """The config objects each component holds for a top-level section (what it decides with)."""
    return {
        "protection": [bms.protection.cfg, bms.measurer.cfg],
        "fet": [bms.fets.cfg],
        "limits": [bms.limiter.cfg],
        "balancing": [bms.balancer.cfg],
        "estimation": [bms.estimator.ec],
        "cvl": [bms.charge_control.cfg],
        "heater": [bms.charge_control.heater.cfg],
    }[section]


def test_every_runtime_parameter_reaches_the_component_that_uses_it():
    """ros2 param set of a runtime parameter calls Bms.set_config: each component must then decide with the new
    value (issue 12: the estimation.* parameters were accepted and never reached the estimator)."""
    from bms_ros.core.params import ConfigError, flatten, specs

    base = core_config({})
    current = flatten(base)
    checked = []
    for spec in specs(type(base)):
        if not spec.runtime:
            continue
        for value in _changed_value(spec, current[spec.name]):
            try:
                cfg = core_config({spec.name: value})
            except ConfigError:
                continue  # another rule forbids this value: try the next
            bms = Bms(core_config({}))
            bms.set_config(cfg)
            section, rest = spec.name.split(".", 1)
            for owner in _owners(bms, section):
                obj = owner
                for part in rest.split("."):
                    obj = getattr(obj, part)
                assert obj == cfg_value(cfg, spec.name), spec.name
            checked.append(spec.name)
            break
    est = [n for n in checked if n.startswith("estimation.")]
    assert len(est) >= 15 and len(checked) >= 80, (len(est), len(checked))
    # the values the estimator copied into its helpers at construction follow too
    bms = Bms(core_config({}))
    bms.set_config(
        core_config(
            {
                "estimation.current_noise": 0.02,
                "estimation.capacity_min_delta_soc": 0.5,
                "estimation.resistance_forgetting": 0.99,
            }
        )
    )
    assert bms.estimator.capacity.gain_error == 0.02 and bms.estimator.capacity.min_delta == 0.5
    assert bms.estimator.rls.lam == 0.99


def cfg_value(cfg, dotted: str):
    obj = cfg
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj
