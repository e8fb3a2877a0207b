"""bq769x2-only behaviour of the driver on the register-level emulator: autonomous recovery, host FET control,
CONFIG_UPDATE, subcommand completion, the chip's balancing rules, power-on validity, shutdown."""

import math

import numpy as np
import pytest

from bms_ros.afe.base import AfeError
from bms_ros.afe.bq769x2 import registers as r
from bms_ros.afe.bq769x2.conversions import Bq769x2Protection
from bms_ros.afe.bq769x2.driver import Bq769x2Afe
from bms_ros.afe.bq769x2.emul import Bq769x2Emul
from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.afe.sim.simulated_bq769x2 import SimulatedBq769x2
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.types import AfeFlag, HardwareProtection


def run(afe, t_from, t_to, dt=0.1):
    return [afe.read(float(t)) for t in np.arange(t_from, t_to + 1e-9, dt)]


def test_scd_recovers_by_itself_after_the_scd_recovery_time_and_host_control_decides():
    afe = SimulatedBq769x2.create(
        cell_count=4, seed=1, driver_kwargs={"extra": Bq769x2Protection(short_circuit_recovery=3.0)}
    )
    afe.pack.load_a = 2.0
    afe.set_fets(True, True)
    afe.read(0.0)
    afe.faults.external_short(True, current_a=500.0)
    s = afe.read(0.1)
    assert s.afe_flags & AfeFlag.SHORT_CIRCUIT and not s.discharge_fet
    afe.faults.external_short(False)
    assert run(afe, 0.2, 2.9)[-1].afe_flags & AfeFlag.SHORT_CIRCUIT  # before the recovery time
    s = run(afe, 3.0, 3.6)[-1]
    assert not s.afe_flags and s.discharge_fet  # autonomous recovery: DSG back on
    # host control: a FET the host blocked stays off after a recovery
    afe.set_fets(True, False)
    afe.faults.external_short(True, current_a=500.0)
    afe.set_fets(True, True)
    afe.read(3.8)
    afe.set_fets(True, False)
    afe.faults.external_short(False)
    s = run(afe, 3.9, 8.0)[-1]
    assert not s.afe_flags and not s.discharge_fet


def test_cov_recovers_below_threshold_minus_hysteresis():
    afe = SimulatedBq769x2.create(
        cell_count=4,
        initial_soc=0.9,
        seed=2,
        protection=HardwareProtection(cell_overvoltage=4.1, cell_overvoltage_delay=0.5),
    )
    afe.pack.charger_connected, afe.pack.charger_current_a = True, 10.0
    afe.pack.cfg.charger_cv_per_cell = 4.4
    afe.set_fets(True, True)
    for t in np.arange(0.0, 3600.0, 0.5):
        s = afe.read(float(t))
        if s.afe_flags & AfeFlag.OVERVOLTAGE:
            break
    assert not s.charge_fet and s.discharge_fet
    afe.pack.charger_connected = False
    afe.pack.load_a = 30.0  # pull the cells below COV - hysteresis
    for t in np.arange(s.stamp + 0.5, s.stamp + 3600.0, 0.5):
        s = afe.read(float(t))
        if not s.afe_flags & AfeFlag.OVERVOLTAGE:
            break
    eff = afe.driver.protection_full
    assert not s.afe_flags and s.charge_fet
    assert s.cell_voltages.max() < eff.base.cell_overvoltage - eff.cell_overvoltage_recovery + 0.01


def test_overtemperature_in_charge_blocks_chg_only():
    afe = SimulatedBq769x2.create(
        cell_count=4,
        seed=3,
        driver_kwargs={"extra": Bq769x2Protection(charge_overtemperature=45.0, temperature_delay=1.0)},
    )
    afe.set_fets(True, True)
    afe.read(0.0)
    afe.pack.temperature_c = 50.0
    s = run(afe, 0.1, 1.6)[-1]
    assert s.afe_flags & AfeFlag.DEVICE_FAULT and not s.charge_fet and s.discharge_fet
    assert "otc" in [w for _, w in afe.chip.events]


def test_data_memory_is_written_only_in_config_update_mode():
    afe = SimulatedBq769x2.create(cell_count=5, seed=4)
    assert not afe.chip.violations and not afe.chip.cfgupdate
    afe.driver.io.dm_write(r.COV_THRESHOLD, bytes([60]))  # outside CONFIG_UPDATE: ignored by the chip
    assert afe.chip.violations and afe.chip.dm_u(r.COV_THRESHOLD) != 60


def test_a_subcommand_that_never_completes_is_a_counted_error():
    afe = SimulatedBq769x2.create(cell_count=5, seed=5, sim_kwargs={"busy_polls": 3})
    assert afe.read(0.0).comm_ok  # 3 busy polls: within the budget
    afe.chip.busy_polls = 10_000
    s = afe.read(0.1)
    assert not s.comm_ok and afe.driver.errors.busy >= 1
    with pytest.raises(AfeError):
        afe.set_fets(True, True) or afe.driver.configure_protection(HardwareProtection())


def test_the_chip_refuses_more_cells_than_cbal_max_cells():
    afe = SimulatedBq769x2.create(cell_count=16, chemistry="lfp", seed=6, driver_kwargs={"balance_max_cells": 2})
    assert afe.chip.dm_u(r.CBAL_MAX_CELLS) == 2
    with pytest.raises(ValueError, match="CBAL_MAX_CELLS"):
        afe.set_balancing(0b10101)
    afe.set_balancing(0b101)
    assert afe.read(0.0).balancing_mask == 0b101 and afe.chip.cb_active == 0b101
    afe.driver.io.subcommand_write(r.CB_ACTIVE_CELLS, (0b10101).to_bytes(2, "little"))  # bypassing the driver
    assert afe.chip.violations and afe.chip.cb_active == 0b101


def test_a_cold_chip_reports_nothing_valid_before_its_first_full_measurement_set():
    afe = SimulatedBq769x2.create(cell_count=8, seed=7, sim_kwargs={"warm": False})
    s = afe.read(0.0)
    assert s.comm_ok and np.isnan(s.cell_voltages).all() and math.isnan(s.current) and math.isnan(s.pack_voltage)
    assert np.isnan(s.temperatures).all() and math.isnan(s.die_temperature)
    s = afe.read(0.2)
    assert np.isfinite(s.cell_voltages).all() and np.all(s.cell_voltages > 3.0) and np.isfinite(s.temperatures).all()


def test_a_reset_chip_is_reconfigured_and_revalidated():
    afe = SimulatedBq769x2.create(cell_count=8, seed=8, protection=HardwareProtection(cell_overvoltage=4.1))
    afe.read(0.0)
    afe.chip.boot()
    assert afe.chip.dm_u(r.COV_THRESHOLD) == 86
    s = afe.read(0.1)
    assert afe.driver.errors.reinit == 1 and np.isnan(s.cell_voltages).all()  # first set after reset: not yet
    assert afe.chip.dm_u(r.COV_THRESHOLD) == math.floor(4.1 / r.CELL_PROT_LSB_V)
    assert np.isfinite(afe.read(0.4).cell_voltages).all()


def test_shutdown_and_bq76942():
    afe = SimulatedBq769x2.create(cell_count=4, seed=9)
    afe.read(0.0)
    afe.enter_ship_mode()
    assert afe.chip.mode == "shutdown" and not afe.pack.discharge_fet and not afe.read(0.1).comm_ok
    pack = PackModel(get_chemistry("nmc"), PackModelConfig(cell_count=10, seed=1))
    chip = Bq769x2Emul(pack, device_number=0x7694, warm=True)
    drv = Bq769x2Afe(chip, 10, sleep=lambda s: None)
    assert drv.chip == "bq76942" and drv.channels == tuple(range(10))
    with pytest.raises(AfeError, match="10 cell inputs"):
        Bq769x2Afe(
            Bq769x2Emul(PackModel(get_chemistry("nmc"), PackModelConfig(cell_count=10)), device_number=0x7694),
            12,
            sleep=lambda s: None,
        )


def test_configuration_accepts_bq769x2_and_checks_its_cell_range():
    from bms_ros.afe.config import AfeConfig
    from bms_ros.config import load_config
    from bms_ros.core.params import ConfigError

    AfeConfig(type="bq769x2", require_hardware=True).validate()  # a hardware type for bms.launch.py
    cfg = load_config(
        {"pack.cell_count": 16, "pack.chemistry": "lfp", "afe.type": "sim_bq769x2", "sim.fault.nack_rate": 0.01}
    )  # bus faults need a chip emulator: accepted
    assert cfg.afe.type == "sim_bq769x2"
    with pytest.raises(ConfigError, match=r"3\.\.16 cells"):
        load_config({"pack.cell_count": 17, "afe.type": "sim_bq769x2"})
    with pytest.raises(ConfigError, match=r"3\.\.10 cells"):
        load_config({"pack.cell_count": 12, "afe.type": "bq769x2", "afe.chip": "bq76942"})
