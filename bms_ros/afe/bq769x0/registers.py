"""bq769x0 (BQ76920/30/40) register map, bit fields, conversion constants and the cell-channel mapping.

[DS] = TI SLUSBK2I (rev. I, March 2022), pages of the PDF. Shared by the driver and the register-level simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---- I2C ------------------------------------------------------------------------------------------------------
ADDRESSES = (0x08, 0x18)  # 7-bit, fixed by the order code [DS p.3]
BUS_HZ = 100_000  # fSCL max [DS p.14, p.25]

# ---- registers [DS p.29-37] -------------------------------------------------------------------------------------
SYS_STAT = 0x00
CELLBAL1 = 0x01
CELLBAL2 = 0x02  # BQ76930/40 only
CELLBAL3 = 0x03  # BQ76940 only
SYS_CTRL1 = 0x04
SYS_CTRL2 = 0x05
PROTECT1 = 0x06
PROTECT2 = 0x07
PROTECT3 = 0x08
OV_TRIP = 0x09
UV_TRIP = 0x0A
CC_CFG = 0x0B
VC1_HI = 0x0C  # VCn_HI = 0x0C + 2(n-1), big-endian pairs, 14 bits
BAT_HI = 0x2A
TS1_HI = 0x2C  # TSn_HI = 0x2C + 2(n-1)
CC_HI = 0x32
CC_LO = 0x33
ADCGAIN1 = 0x50
ADCOFFSET = 0x51
ADCGAIN2 = 0x59

# SYS_STAT bits, all write-1-to-clear [DS p.30]
STAT_CC_READY = 0x80
STAT_DEVICE_XREADY = 0x20
STAT_OVRD_ALERT = 0x10
STAT_UV = 0x08
STAT_OV = 0x04
STAT_SCD = 0x02
STAT_OCD = 0x01
STAT_FAULTS = STAT_DEVICE_XREADY | STAT_OVRD_ALERT | STAT_UV | STAT_OV | STAT_SCD | STAT_OCD
STAT_W1C = STAT_CC_READY | STAT_FAULTS

# SYS_CTRL1 [DS p.31-32]
CTRL1_LOAD_PRESENT = 0x80  # read-only, valid with CHG_ON = 0
CTRL1_ADC_EN = 0x10
CTRL1_TEMP_SEL = 0x08  # 1: thermistors in TSx, 0: die temperature
CTRL1_RSVD2 = 0x04  # must not be set
CTRL1_SHUT_A = 0x02
CTRL1_SHUT_B = 0x01

# CELLBALx: one register per group of 5 VC inputs, bit k balances the group's cell k+1 [DS p.24, p.30]
CELLS_PER_GROUP = 5
CELLBAL_MASK = 0x1F

# SYS_CTRL2 [DS p.32]
CTRL2_DELAY_DIS = 0x80
CTRL2_CC_EN = 0x40
CTRL2_CC_ONESHOT = 0x20
CTRL2_DSG_ON = 0x02
CTRL2_CHG_ON = 0x01

PROTECT1_RSNS = 0x80  # doubles the OCD and SCD thresholds [DS p.32]
CC_CFG_VALUE = 0x19  # "must be programmed to 0x19" at start-up [DS p.35]
CC_CFG_MASK = 0x3F  # CC_CFG bits 5:0; bits 7:6 reserved [DS p.35]

OV_TRIP_DEFAULT = 0xAC  # reset values [DS p.34-35]
UV_TRIP_DEFAULT = 0x97

# ---- conversions [DS p.18-22, p.36-37] ----------------------------------------------------------------------
ADC_MASK = 0x3FFF  # 14-bit cell/TS readings, HI bits 7:6 reserved [DS p.35]
ADC_GAIN_BASE_UV = 365  # GAIN = 365 + ADCGAIN<4:0> uV/LSB [DS p.36]
CC_LSB_V = 8.44e-6  # coulomb counter LSB [DS p.20]
TS_LSB_V = 382e-6  # TS readings use a fixed 382 uV LSB, not GAIN [DS p.20]
TS_PULLUP_OHM = 10_000.0  # internal thermistor pull-up to ~3.3 V [DS p.11, p.20]
TS_BIAS_V = 3.3
DIE_V25 = 1.200  # die temperature 1.20 V at 25 degC, -4.2 mV/degC [DS p.12, p.21]
DIE_DV_PER_C = -0.0042
UVMINQUAL = 0x0518  # UV ignored below this reading (shorted inputs) [DS p.12, p.22]
OV_FULL_BASE = 0x2008  # OV trip = 10-OV_TRIP-1000 [DS p.22]
UV_FULL_BASE = 0x1000  # UV trip = 01-UV_TRIP-0000 [DS p.22]

# ---- timing [DS p.11, p.17-18, p.21] --------------------------------------------------------------------------
ADC_PERIOD_S = 0.25  # cell voltages, BAT and the CC window
TEMP_PERIOD_S = 2.0  # TS / die temperature
BALANCE_DUTY = 0.70  # balancing is paused for measurements: ~70 % duty per 250 ms [DS p.25]


def decode_gain_uv(adcgain1: int, adcgain2: int) -> int:
    """ADC gain in uV/LSB from ADCGAIN1 bits 3:2 = ADCGAIN<4:3> and ADCGAIN2 bits 7:5 = ADCGAIN<2:0> [DS p.36]."""
    return ADC_GAIN_BASE_UV + (((adcgain1 & 0x0C) << 1) | ((adcgain2 & 0xE0) >> 5))


def decode_offset_mv(adcoffset: int) -> int:
    """ADCOFFSET is a signed 8-bit value in mV: 0x80 = -128, 0xFF = -1 [DS p.37]."""
    adcoffset &= 0xFF
    return adcoffset - 256 if adcoffset & 0x80 else adcoffset


def encode_gain(gain_uv: int) -> tuple[int, int]:
    """(ADCGAIN1 bits 3:2, ADCGAIN2 bits 7:5) for a gain in 365..396 uV/LSB (simulator / fakes)."""
    g = int(gain_uv) - ADC_GAIN_BASE_UV
    if not 0 <= g <= 31:
        raise ValueError(f"ADC gain {gain_uv} uV/LSB outside 365..396")
    return (g >> 3) << 2, (g & 0x07) << 5


# ---- chips and the cell-to-channel mapping [DS Tables 9-2/9-3/9-4, p.39-40] -----------------------------------
@dataclass(frozen=True)
class Chip:
    name: str
    groups: int  # 5-channel groups, each with its CELLBAL register and TS input

    @property
    def channels(self) -> int:
        return 5 * self.groups

    @property
    def min_cells(self) -> int:
        return 3 * self.groups  # every group needs at least 3 cells (derived from the tables)

    @property
    def max_cells(self) -> int:
        return 5 * self.groups


CHIPS = {"bq76920": Chip("bq76920", 1), "bq76930": Chip("bq76930", 2), "bq76940": Chip("bq76940", 3)}
MIN_CELLS, MAX_CELLS = 3, 15


def select_chip(cell_count: int, chip: str | None = None) -> Chip:
    """The chip for ``cell_count`` series cells: the named one, else the smallest that fits."""
    if not isinstance(cell_count, int) or not MIN_CELLS <= cell_count <= MAX_CELLS:
        raise ValueError(
            f"bq769x0 supports {MIN_CELLS}..{MAX_CELLS} series cells, got {cell_count!r}; "
            "larger packs need a different AFE (e.g. bq769x2) or several stacked AFEs"
        )
    if chip is None:
        return CHIPS["bq76920" if cell_count <= 5 else "bq76930" if cell_count <= 10 else "bq76940"]
    try:
        c = CHIPS[chip.lower()]
    except KeyError:
        raise ValueError(f"unknown bq769x0 chip {chip!r}; known: {', '.join(CHIPS)}") from None
    if not c.min_cells <= cell_count <= c.max_cells:
        raise ValueError(f"{c.name} supports {c.min_cells}..{c.max_cells} cells, got {cell_count}")
    return c


# Channels (0-based within a group) used for 3, 4 or 5 cells: the top cell is always on VC5x, unused inputs
# below it are shorted [DS Tables 9-2/9-3/9-4].
_GROUP_CHANNELS = {3: (0, 1, 4), 4: (0, 1, 2, 4), 5: (0, 1, 2, 3, 4)}


def group_sizes(cell_count: int, chip: Chip) -> tuple[int, ...]:
    """Cells per group; lower groups take the extra cells (6 -> 3+3, 7 -> 4+3, 13 -> 5+4+4) [DS p.39-40]."""
    base, extra = divmod(cell_count, chip.groups)
    return tuple(base + (1 if g < extra else 0) for g in range(chip.groups))


def channel_map(cell_count: int, chip: Chip) -> tuple[int, ...]:
    """Physical VC channel (0-based: 0 = VC1-VC0) of each logical cell (0-based, bottom first)."""
    out: list[int] = []
    for g, size in enumerate(group_sizes(cell_count, chip)):
        out.extend(5 * g + c for c in _GROUP_CHANNELS[size])
    return tuple(out)


def logical_groups(cell_count: int, chip: Chip) -> tuple[tuple[int, int], ...]:
    """Half-open logical cell index ranges of the balancing groups (VC1-5, VC6-10, VC11-15)."""
    out, start = [], 0
    for size in group_sizes(cell_count, chip):
        out.append((start, start + size))
        start += size
    return tuple(out)


def vc_register(channel: int) -> int:
    """VCn_HI address of a 0-based channel."""
    return VC1_HI + 2 * channel


def ts_register(index: int) -> int:
    """TSn_HI address of a 0-based thermistor input."""
    return TS1_HI + 2 * index


def ctrl1(temp_sel: bool) -> int:
    """SYS_CTRL1 as the driver keeps it: ADC on, TEMP_SEL for the thermistors or the die sensor [DS p.31]."""
    return CTRL1_ADC_EN | (CTRL1_TEMP_SEL if temp_sel else 0)


def sample_registers(channels: tuple[int, ...], groups: int, thermistor_count: int) -> tuple[int, ...]:
    """Every register one sample needs: status, controls, balancing, the used VC pairs, BAT, TS and CC."""
    need = {SYS_STAT, SYS_CTRL1, SYS_CTRL2, CC_HI, CC_LO, BAT_HI, BAT_HI + 1}
    need.update(range(CELLBAL1, CELLBAL1 + groups))
    for ch in channels:
        need.update((vc_register(ch), vc_register(ch) + 1))
    for k in range(max(thermistor_count, 1)):  # TS1 carries the die temperature with no thermistors
        need.update((ts_register(k), ts_register(k) + 1))
    return tuple(sorted(need))
