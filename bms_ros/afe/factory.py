"""Build the AFE the configuration asks for. The only place that knows every implementation."""

from __future__ import annotations

import numpy as np

from bms_ros.afe.base import Afe
from bms_ros.afe.config import AfeConfig, SimConfig, SimFaultConfig
from bms_ros.afe.sim.pack_model import PackModel, PackModelConfig
from bms_ros.core.chemistry import get_chemistry
from bms_ros.core.config import PackConfig


def make_pack_model(pack: PackConfig, sim: SimConfig) -> PackModel:
    model = PackModel(
        get_chemistry(pack.chemistry),
        PackModelConfig(
            cell_count=pack.cell_count,
            capacity_ah=pack.design_capacity_ah,
            initial_soc=sim.initial_soc,
            ambient_c=sim.ambient_temperature,
            seed=sim.seed,
            heater_power_w=sim.heater_power,
        ),
    )
    apply_sim_inputs(model, sim)
    return model


_SIM_INPUTS = ("load_current", "charger_connected", "charger_current", "ambient_temperature", "charger_cell_voltage")


def apply_sim_inputs(model: PackModel, sim: SimConfig, changed: set[str] | None = None) -> None:
    """The runtime-settable inputs of a simulated pack (load, charger, ambient).

    ``changed``: only these ``sim.*`` names (None: all, at start). A runtime ``ros2 param set`` of one sim
    parameter must not reset the others: the charger contact, set by topic or service, lives in the model and
    would otherwise be disconnected by any unrelated change (ISSUE 14 item 1).
    """
    names = set(_SIM_INPUTS) if changed is None else {n.removeprefix("sim.") for n in changed}
    if "load_current" in names:
        model.load_a = sim.load_current
    if "charger_connected" in names:
        model.charger_connected = sim.charger_connected
    if "charger_current" in names:
        model.charger_current_a = sim.charger_current
    if "ambient_temperature" in names:
        model.ambient_c = sim.ambient_temperature
    if "charger_cell_voltage" in names:
        model.cfg.charger_cv_per_cell = sim.charger_cell_voltage or float("nan")


def make_afe(afe: AfeConfig, pack: PackConfig, sim: SimConfig) -> Afe:
    if afe.type == "sim":
        from bms_ros.afe.sim.simulated_afe import SimulatedAfe

        ideal = SimulatedAfe(make_pack_model(pack, sim), thermistor_count=max(1, afe.thermistor_count))
        apply_sim_faults(ideal, sim.fault)
        return ideal
    if afe.type == "sim_bq769x0":
        from bms_ros.afe.sim.simulated_bq769x0 import SimulatedBq769x0

        chip = SimulatedBq769x0.from_config(make_pack_model(pack, sim), afe, chip=afe.chip or None)
        apply_sim_faults(chip, sim.fault)
        return chip
    if afe.type == "sim_bq769x2":
        from bms_ros.afe.sim.simulated_bq769x2 import SimulatedBq769x2

        chip2 = SimulatedBq769x2.from_config(
            make_pack_model(pack, sim), afe, sim_kwargs={"device_number": 0x7694 if afe.chip == "bq76942" else 0x7695}
        )
        apply_sim_faults(chip2, sim.fault)
        return chip2
    if afe.type in ("sim_sbs", "sim_jbd", "sim_daly"):
        from bms_ros.afe.sim.pack_sims import make_simulated_pack

        smart = make_simulated_pack(afe.type, make_pack_model(pack, sim), afe, seed=sim.seed)
        apply_sim_faults(smart, sim.fault)
        return smart
    if afe.type == "sbs":
        import smbus2

        from bms_ros.afe.sbs.driver import SbsPack

        return SbsPack(smbus2.SMBus(afe.i2c_bus), pack.cell_count, address=afe.sbs_address, pec=afe.sbs_pec)
    if afe.type == "daly" and afe.daly_link == "can":
        import can

        from bms_ros.afe.daly.can_link import CAN_BITRATE
        from bms_ros.afe.daly.driver import DalyPack

        bus = can.Bus(interface=afe.can_interface, channel=afe.can_channel, bitrate=CAN_BITRATE)
        return DalyPack(None, pack.cell_count, afe.thermistor_count, timeout=afe.serial_timeout, can_bus=bus)
    if afe.type in ("jbd", "daly"):
        from bms_ros.afe.serial_link import open_serial

        port = open_serial(afe.serial_port, afe.serial_baud, afe.serial_timeout)
        if afe.type == "jbd":
            from bms_ros.afe.jbd.driver import JbdPack

            return JbdPack(port, pack.cell_count, afe.thermistor_count, timeout=afe.serial_timeout)
        from bms_ros.afe.daly.driver import DalyPack

        return DalyPack(port, pack.cell_count, afe.thermistor_count, timeout=afe.serial_timeout)
    if afe.type == "bq769x0":
        from bms_ros.afe.bq769x0.driver import Bq769x0Afe

        return Bq769x0Afe.open(afe, pack.cell_count, chip=afe.chip or None)
    if afe.type == "bq769x2":
        from bms_ros.afe.bq769x2.driver import Bq769x2Afe

        return Bq769x2Afe.open(afe, pack.cell_count)
    raise ValueError(f"afe.type {afe.type!r} has no AFE object (replay samples arrive on a topic)")


def hardware_id(afe: AfeConfig, cell_count: int) -> str:
    """The diagnostics hardware_id: which device on which bus."""
    if afe.type in ("sbs", "sim_sbs"):
        return f"{afe.type} smbus-{afe.i2c_bus}@0x{afe.sbs_address:02x} {cell_count}S"
    if afe.type in ("jbd", "daly"):
        return f"{afe.type} {afe.serial_port} {cell_count}S"
    if afe.type == "bq769x0":
        return f"bq769x0 i2c-{afe.i2c_bus}@0x{afe.i2c_address:02x}"
    return f"{afe.type} {cell_count}S"


def apply_sim_faults(afe: Afe, f: SimFaultConfig) -> None:
    """Make the simulated AFE's injected faults match ``f`` (pack faults on any simulated AFE; bus and sensor
    faults on the register-level simulator, which configuration validation requires for them)."""
    pack = pack_model_of(afe)
    if pack is None:
        return
    pack.external_short = f.external_short
    pack.internal_short_ohm[:] = np.inf
    if f.soft_short_cell:
        pack.internal_short_ohm[f.soft_short_cell - 1] = f.soft_short_resistance
    faults = getattr(afe, "faults", None)
    if faults is None:
        return
    bms = getattr(afe, "bms", None)
    if bms is not None:  # a smart pack's own simulated BMS
        bms.release()
        if f.pack_trip != "none":
            bms.trip(f.pack_trip)
    faults.nack_rate, faults.timeout_rate, faults.crc_corrupt_rate = f.nack_rate, f.timeout_rate, f.crc_corrupt_rate
    faults.clear_measurement_faults()
    if f.stuck_cell:
        faults.stuck_cell(f.stuck_cell - 1, f.stuck_cell_voltage)
    if f.open_wire_cell:
        faults.open_wire(f.open_wire_cell - 1)
    if f.thermistor == "open":
        faults.thermistor_open(0)
    elif f.thermistor == "short":
        faults.thermistor_short(0)


def pack_model_of(afe: Afe) -> PackModel | None:
    """The simulated pack behind a simulated AFE, or None on hardware."""
    return getattr(afe, "pack", None)
