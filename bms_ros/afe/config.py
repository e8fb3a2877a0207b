"""AFE and simulation settings (part of the package's parameter tree: ``afe.*`` and ``sim.*``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bms_ros.core.params import ConfigError, param

HARDWARE_AFE_TYPES = ("bq769x0", "bq769x2", "sbs", "jbd", "daly")  # afe.type values that read a real pack
CHIP_AFE_TYPES = ("sim_bq769x0", "sim_bq769x2", "sim_sbs", "sim_jbd", "sim_daly")  # wire-level emulators
PACK_SOURCE_TYPES = ("sbs", "jbd", "daly", "sim_sbs", "sim_jbd", "sim_daly")  # smart packs (issue 17)


@dataclass
class AfeConfig:
    type: str = param(
        "sim",
        "AFE: sim (ideal simulated pack), sim_bq769x0 / sim_bq769x2 (real driver on the "
        "register-level emulator), bq769x0 / bq769x2 (I2C hardware: BQ76920/30/40, "
        "BQ76952/42), sbs (SBS smart battery on SMBus), jbd / daly (BMS board on "
        "UART/RS485), sim_sbs / sim_jbd / sim_daly (those drivers on their wire-level "
        "emulators), replay (AfeSample messages on ~/afe_in)",
        choices=(
            "sim",
            "sim_bq769x0",
            "bq769x0",
            "sim_bq769x2",
            "bq769x2",
            "sbs",
            "jbd",
            "daly",
            "sim_sbs",
            "sim_jbd",
            "sim_daly",
            "replay",
        ),
    )
    chip: str = param(
        "",
        "bq769x0 part: bq76920, bq76930 or bq76940 ('' = the smallest that fits; a BQ76940 "
        "with 9 or 10 cells needs bq76940). bq769x2: checked against DEVICE_NUMBER at start",
        choices=("", "bq76920", "bq76930", "bq76940", "bq76952", "bq76942"),
    )
    i2c_bus: int = param(1, "I2C bus number (/dev/i2c-N)", min=0, max=255)
    i2c_address: int = param(8, "7-bit I2C address (bq769x0: 0x08 or 0x18; bq769x2: 0x08 by default)", min=1, max=127)
    crc: bool = param(
        True, "The part checks a CRC-8 per byte (bq769x0 order code ...01/...03/7693007; bq769x2: Comm Type with CRC)"
    )
    shunt_resistance: float = param(0.001, "Current sense shunt", "ohm", 1e-5, 1.0)
    thermistor_count: int = param(1, "Thermistors wired to TS1..TS3", min=0, max=3)
    thermistor_beta: float = param(3435.0, "NTC Beta (25/85 degC)", "K", 1000.0, 10000.0)
    thermistor_r25: float = param(10000.0, "NTC resistance at 25 degC", "ohm", 100.0, 1e6)
    sbs_address: int = param(0x0B, "SBS: 7-bit SMBus address (smart batteries answer at 0x0B)", min=1, max=127)
    sbs_pec: str = param("auto", "SBS: SMBus PEC (auto: from SpecificationInfo)", choices=("auto", "on", "off"))
    serial_port: str = param("/dev/ttyUSB0", "jbd / daly: serial device (UART or RS485 adapter)")
    serial_baud: int = param(9600, "jbd / daly: baud rate (both boards default to 9600 8N1)", min=1200, max=1000000)
    serial_timeout: float = param(0.3, "jbd / daly: reply timeout per request", "s", 0.01, 5.0)
    daly_link: str = param(
        "uart",
        "daly / sim_daly: uart (UART or RS485, afe.serial_*) or can (python-can, afe.can_*; 250 kbit/s, 29-bit ids)",
        choices=("uart", "can"),
    )
    can_interface: str = param("socketcan", "daly over CAN: python-can interface (socketcan, slcan, pcan, ...)")
    can_channel: str = param("can0", "daly over CAN: python-can channel")
    require_hardware: bool = param(
        False,
        "Refuse to start unless afe.type reads a real pack (bq769x0, bq769x2, "
        "sbs, jbd, daly); "
        "bms.launch.py sets it, so a hardware launch never runs a simulated pack",
    )

    def validate(self) -> None:
        if self.require_hardware and self.type not in HARDWARE_AFE_TYPES:
            raise ConfigError(
                f"afe.type: {self.type!r} is not hardware, but this node must read a real pack "
                f"(afe.require_hardware, set by bms.launch.py); set afe.type: "
                f"{' or '.join(HARDWARE_AFE_TYPES)} in the parameter file, or use sim.launch.py for a simulation"
            )


@dataclass
class SimFaultConfig:
    """Faults injected into the simulated pack; bus and sensor faults need a chip emulator (sim_bq769x0/x2)."""

    nack_rate: float = param(0.0, "Fraction of I2C transactions NACKed", "", 0.0, 1.0, runtime=True)
    timeout_rate: float = param(0.0, "Fraction of I2C transactions that time out", "", 0.0, 1.0, runtime=True)
    crc_corrupt_rate: float = param(0.0, "Fraction of I2C reads with a corrupted CRC byte", "", 0.0, 1.0, runtime=True)
    stuck_cell: int = param(
        0, "Cell (1-based) whose reading is stuck at stuck_cell_voltage; 0: none", min=0, max=100, runtime=True
    )
    stuck_cell_voltage: float = param(3.7, "Reading of the stuck cell", "V", 0.0, 6.0, runtime=True)
    open_wire_cell: int = param(
        0, "Cell (1-based) whose upper sense wire is open; 0: none", min=0, max=100, runtime=True
    )
    thermistor: str = param("ok", "Thermistor 1 state", choices=("ok", "open", "short"), runtime=True)
    external_short: bool = param(False, "Hard short circuit across the pack terminals", runtime=True)
    pack_trip: str = param(
        "none",
        "Smart-pack emulators (sim_sbs/sim_jbd/sim_daly): the pack's own BMS trips this "
        "protection (held until set back to none)",
        choices=(
            "none",
            "cell_overvoltage",
            "cell_undervoltage",
            "charge_overtemperature",
            "discharge_overtemperature",
            "charge_overcurrent",
            "discharge_overcurrent",
            "short_circuit",
            "frontend_error",
        ),
        runtime=True,
    )
    soft_short_cell: int = param(
        0, "Cell (1-based) with a soft internal short (high self-discharge); 0: none", min=0, max=100, runtime=True
    )
    soft_short_resistance: float = param(100.0, "Resistance of the soft internal short", "ohm", 0.01, 1e6, runtime=True)

    def bus_or_sensor_faults(self) -> list[str]:
        names = []
        for name in ("nack_rate", "timeout_rate", "crc_corrupt_rate", "stuck_cell", "open_wire_cell"):
            if getattr(self, name):
                names.append(name)
        if self.thermistor != "ok":
            names.append("thermistor")
        return names


@dataclass
class SimConfig:
    initial_soc: float = param(0.8, "Simulated pack: initial state of charge", min=0.0, max=1.0)
    ambient_temperature: float = param(25.0, "Simulated pack: ambient temperature", "degC", -40.0, 80.0, runtime=True)
    seed: int = param(1, "Simulated pack: seed of the cell-to-cell variation", min=0, max=2**31 - 1)
    load_source: str = param(
        "constant",
        "Where the simulated load comes from: constant (sim.load_current), "
        "current (std_msgs/Float64 on load_current, A), cmd_vel (Twist through the power "
        "model) or joint_states (sum of effort x velocity / efficiency)",
        choices=("constant", "current", "cmd_vel", "joint_states"),
        runtime=True,
    )
    load_current: float = param(
        2.0, "Constant simulated load drawn from the pack (> 0 discharges)", "A", -1000.0, 1000.0, runtime=True
    )
    idle_power: float = param(10.0, "Robot power at rest (power model)", "W", 0.0, 100000.0, runtime=True)
    power_per_mps: float = param(
        40.0, "Extra power per m/s of linear velocity (cmd_vel model)", "W/(m/s)", 0.0, 100000.0, runtime=True
    )
    power_per_radps: float = param(
        15.0, "Extra power per rad/s of angular velocity (cmd_vel model)", "W/(rad/s)", 0.0, 100000.0, runtime=True
    )
    drive_efficiency: float = param(
        0.8, "Electrical-to-mechanical efficiency (joint_states model)", "", 0.05, 1.0, runtime=True
    )
    input_timeout: float = param(1.0, "A load input older than this counts as idle", "s", 0.01, 3600.0, runtime=True)
    charger_connected: bool = param(False, "Simulated charger on the pack terminals", runtime=True)
    charger_current: float = param(5.0, "Simulated charger constant-current limit", "A", 0.0, 1000.0, runtime=True)
    charger_cell_voltage: float = param(
        0.0,
        "Simulated charger constant-voltage setpoint per cell; 0: the "
        "chemistry's full voltage (set it high to simulate a broken charger)",
        "V",
        0.0,
        5.0,
        runtime=True,
    )
    heater_power: float = param(
        30.0,
        "Simulated pack heater power, fed by the charger (heater.enabled switches it); 0: no heater",
        "W",
        0.0,
        10000.0,
    )
    charger_follows_limits: bool = param(
        False,
        "The simulated charger obeys the BMS like a smart dock: CV at the CVL, CC at the smaller of "
        "sim.charger_current and the CCL",
        runtime=True,
    )
    fault: SimFaultConfig = field(default_factory=SimFaultConfig)
