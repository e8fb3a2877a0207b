"""bq769x2 (BQ76952 16S / BQ76942 10S) commands, subcommands, data-memory addresses, bits and units.

Sources (every constant carries one):
  [TRM]  TI SLUUBY2B, BQ76952 Technical Reference Manual (direct commands, subcommands, data memory);
  [DS]   TI SLUSE13B, BQ76952 datasheet (measurement loop timing); [DS42] SLUSE14B, BQ76942 datasheet;
  [AN]   TI SLUAA11B, "BQ769x2 Software Development Guide" (CRC worked examples, subcommand sequence);
  [LS2R] LibreSolar/bms-firmware drivers/bms_ic/bq769x2/bq769x2_registers.h (addresses, data units);
  [LS2]  LibreSolar/bms-firmware drivers/bms_ic/bq769x2/bq769x2.c (ranges, DA Configuration 0x06);
  [BC]   bcanozter/stm32g4_bq76952_dronecan Includes/bq76952_protocol.h (FET_CONTROL bits);
  [FACTS] /work/shared/reference/afe-facts.md Part B (which cross-checks the above).
"""

from __future__ import annotations

# ---- I2C ------------------------------------------------------------------------------------------------------
DEFAULT_ADDRESS = 0x08  # 7-bit (8-bit 0x10/0x11) [AN examples; LS2 board files reg = <0x08>]
BUS_HZ = 400_000  # "supports rates up to 400 kHz", the default I2C mode [DS "I2C Communications
# Subsystem"; block writes auto-increment the register address, same section]
BUS_HZ_STANDARD = 100_000  # the bench also reports standard mode for comparison with bq769x0

# ---- direct commands: 2 bytes, little-endian, signed unless noted [TRM 4.x; LS2R; FACTS table] -----------------
CONTROL_STATUS = 0x00
SAFETY_ALERT_A, SAFETY_STATUS_A = 0x02, 0x03
SAFETY_ALERT_B, SAFETY_STATUS_B = 0x04, 0x05
SAFETY_ALERT_C, SAFETY_STATUS_C = 0x06, 0x07
BATTERY_STATUS = 0x12
CELL1_VOLTAGE = 0x14  # Cell n at 0x14 + 2(n-1), n = 1..16, mV
STACK_VOLTAGE = 0x34  # userV
PACK_VOLTAGE = 0x36  # userV
LD_VOLTAGE = 0x38  # userV
CC2_CURRENT = 0x3A  # userA, > 0 charging [TRM CC2 Current; LS2 uses it unchanged as > 0 charge]
SUBCMD_LOW, SUBCMD_HIGH = 0x3E, 0x3F
TRANSFER_BUFFER = 0x40  # 32 bytes 0x40..0x5F [TRM 3.x; LS2R BQ769X2_DATA_BUFFER_SIZE 32]
TRANSFER_BUFFER_SIZE = 32
CHECKSUM = 0x60  # ~(0x3E + 0x3F + sum(data)) & 0xFF [TRM 3.x; FACTS]
LENGTH = 0x61  # data bytes + 4 [TRM 3.x; LS2R SUBCMD_OVERHEAD_BYTES 4]
SUBCMD_OVERHEAD = 4
ALARM_STATUS = 0x62
INT_TEMPERATURE = 0x68  # 0.1 K
TS1_TEMPERATURE = 0x70  # 0.1 K; TS2 0x72, TS3 0x74
TS_TEMPERATURES = (0x70, 0x72, 0x74)
FET_STATUS = 0x7F  # 1 byte

# Safety Alert/Status A [LS2R union bq769x2_reg_safety_a; FACTS]
SA_CUV, SA_COV, SA_OCC, SA_OCD1, SA_OCD2, SA_SCD = 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
# Safety Alert/Status B [LS2R union bq769x2_reg_safety_b]
SB_UTC, SB_UTD, SB_UTINT, SB_OTC, SB_OTD, SB_OTINT, SB_OTF = 0x01, 0x02, 0x04, 0x10, 0x20, 0x40, 0x80
# Safety Alert/Status C [LS2R union bq769x2_reg_safety_c]
SC_HWDF, SC_PTO, SC_COVL, SC_OCDL, SC_SCDL, SC_OCD3 = 0x02, 0x04, 0x10, 0x20, 0x40, 0x80

# Battery Status (16 bits) [LS2R union bq769x2_reg_bat_status]
BS_CFGUPDATE = 1 << 0
BS_SLEEP_EN = 1 << 2
BS_POR = 1 << 3  # set at power-on reset, cleared on EXIT_CFGUPDATE [TRM Battery Status]
BS_SEC_SHIFT, BS_SEC_MASK = 8, 0x3  # 1 FULLACCESS, 2 UNSEALED, 3 SEALED
SEC_SEALED = 3
BS_SD_CMD = 1 << 13
BS_SLEEP = 1 << 15

# FET Status [LS2R union bq769x2_reg_fet_status]
FS_CHG, FS_PCHG, FS_DSG, FS_PDSG = 0x01, 0x02, 0x04, 0x08

# ---- subcommands [LS2R "Command-only subcommands" / "Subcommands with data"; FACTS] ---------------------------
DEVICE_NUMBER = 0x0001  # u16: 0x7695 BQ76952, 0x7694 BQ76942 [FACTS: E2E #953106]
DEEPSLEEP = 0x000F
SHUTDOWN = 0x0010  # twice within 4 s when sealed [FACTS]
RESET = 0x0012
FET_ENABLE = 0x0022  # toggles FET_EN in Manufacturing Status [LS2 init_config]
MFG_STATUS = 0x0057  # u16, bit 4 FET_EN [LS2R union bq769x2_reg_mfg_status]
MFG_FET_EN = 1 << 4
CB_ACTIVE_CELLS = 0x0083  # u16 mask, read or write [LS2 balance / read_balancing]
SET_CFGUPDATE = 0x0090
EXIT_CFGUPDATE = 0x0092
ALL_FETS_OFF = 0x0095
ALL_FETS_ON = 0x0096
FET_CONTROL = 0x0097  # 1 byte: bit 0 DSG_OFF, 1 PDSG_OFF, 2 CHG_OFF, 3 PCHG_OFF [BC; FACTS]
FC_DSG_OFF, FC_PDSG_OFF, FC_CHG_OFF, FC_PCHG_OFF = 0x01, 0x02, 0x04, 0x08
SLEEP_ENABLE = 0x0099
SLEEP_DISABLE = 0x009A

DEVICE_NUMBERS = {0x7695: ("bq76952", 16), 0x7694: ("bq76942", 10)}  # [FACTS]

# ---- data memory (little-endian) [LS2R, manual sections 13.2-13.6] ----------------------------------------------
DM_FIRST, DM_LAST = 0x9180, 0x93FF
CC_GAIN = 0x91A8  # f4; 7568.4 / shunt_uohm [LS2 init_config, "nominal VREF2"]
CC_GAIN_NUMERATOR_UOHM = 7568.4
POWER_CONFIG = 0x9234  # u2
DA_CONFIG = 0x9303  # u1: bits 1:0 USER_AMPS, bit 2 USER_VOLTS_CV [TRM DA Configuration]
DA_CONFIG_10MA_10MV = 0x06  # 10 mA and 10 mV [LS2 init_config]
VCELL_MODE = 0x9304  # u2: bit i set = cell input i+1 measured and protected [LS2 detect_cells]
TS_CONFIG = (0x92FD, 0x92FE, 0x92FF)  # TS1..TS3 pin configuration u1 [LS2R]
TS_THERMISTOR_CONFIG = 0x07  # thermistor, 18k pull-up, cell temperature [LS2 devicetree default ts1 0x07]
ENABLED_PROT_A = 0x9261  # u1, bits as Safety Status A [LS2 configure_cell_uvp]
ENABLED_PROT_B = 0x9262  # u1, bits as Safety Status B [LS2 configure_temp_limits]
FET_OPTIONS = 0x9308  # u1: HOST_FET_EN bit 2, FET_INIT_OFF bit 5 [FACTS]
FET_OPTIONS_HOST = 0x0D  # SFET | HOST_FET_EN | FET_CTRL_EN, no PDSG, FET_INIT_OFF = 0: the default [TRM
# Settings:FET:FET Options]; LS2 init_config writes the same without auto PDSG
CHG_FET_PROT_A_DEFAULT = 0x98  # SCD | OCC | COV switch the CHG FET off [TRM Settings:Protection:CHG FET
# Protections A, default 0x98]
DSG_FET_PROT_A_ASSUMED = 0xE4  # SCD | OCD2 | OCD1 | CUV switch the DSG FET off (DSG FET Protections A; value
# assumed by analogy, not read in the TRM)
CBAL_CONF = 0x9335  # u1: 0 = host-controlled balancing only [LS2 configure_balancing]
CBAL_MAX_CELLS = 0x933A  # u1: default 1 [LS2 "instead of only 1 by default"]
CUV_THRESHOLD, CUV_DELAY, CUV_RECOV_HYST = 0x9275, 0x9276, 0x927B
COV_THRESHOLD, COV_DELAY, COV_RECOV_HYST = 0x9278, 0x9279, 0x927C
OCC_THRESHOLD, OCC_DELAY, OCC_RECOVERY = 0x9280, 0x9281, 0x9288
OCD1_THRESHOLD, OCD1_DELAY = 0x9282, 0x9283
OCD2_THRESHOLD, OCD2_DELAY = 0x9284, 0x9285
SCD_THRESHOLD, SCD_DELAY, SCD_RECOV_TIME = 0x9286, 0x9287, 0x9294
OCD_RECOV_THRESHOLD = 0x928D  # i2 mA
OTC_THRESHOLD, OTC_DELAY, OTC_RECOVERY = 0x929A, 0x929B, 0x929C
OTD_THRESHOLD, OTD_DELAY, OTD_RECOVERY = 0x929D, 0x929E, 0x929F
UTC_THRESHOLD, UTC_DELAY, UTC_RECOVERY = 0x92A6, 0x92A7, 0x92A8
UTD_THRESHOLD, UTD_DELAY, UTD_RECOVERY = 0x92A9, 0x92AA, 0x92AB
PROT_RECOVERY_TIME = 0x92AF  # u1 s

# ---- units and ranges of the protection settings [LS2R comments; LS2 configure_*] ------------------------------
CELL_PROT_LSB_V = 0.0506  # COV/CUV threshold and hysteresis unit, 50.6 mV
COV_CODES, CUV_CODES, HYST_CODES = (20, 110), (20, 90), (2, 20)
VOLT_DELAY_LSB_S = 3.3e-3  # COV/CUV delay unit; codes 1..2047
VOLT_DELAY_CODES = (1, 2047)
OC_LSB_V = 2e-3  # OCC/OCD1/OCD2 threshold unit, 2 mV across the shunt
OCC_CODES, OCD_CODES = (2, 62), (2, 100)
OC_DELAY_BASE_S = 6.6e-3  # delay = 6.6 ms + code x 3.3 ms, codes 1..127
OC_DELAY_CODES = (1, 127)
SCD_THRESHOLDS_V = tuple(
    mv * 1e-3 for mv in (10, 20, 40, 60, 80, 100, 125, 150, 175, 200, 250, 300, 350, 400, 450, 500)
)  # SCD threshold codes 0..15 [LS2R; FACTS]
SCD_DELAY_LSB_S = 15e-6  # delay = (code - 1) x 15 us, codes 1..31 [LS2 configure_dis_scp]
SCD_DELAY_CODES = (1, 31)
TEMP_CODES = (-40, 120)  # OT/UT thresholds, signed degC [LS2 configure_temp_limits]

# ---- user units (DA Configuration) [TRM DA Configuration; LS2 DA 0x06 = 10 mA / 10 mV] ------------------------
USER_AMPS_A = (1e-4, 1e-3, 1e-2, 1e-1)  # USER_AMPS 0..3
DA_USER_VOLTS_CV = 0x04  # 1: userV = 10 mV, 0: 1 mV


def user_amps(da_config: int) -> float:
    return USER_AMPS_A[da_config & 0x03]


def user_volts(da_config: int) -> float:
    return 0.01 if da_config & DA_USER_VOLTS_CV else 0.001


# Load detection from the LD pin with DSG open: below this fraction of the stack voltage something (the robot's
# load, a short) pulls the load side down. Modelling choice of this driver (the chip's own LOAD_DETECT feature,
# subcommands 0x009D-0x009F [LS2R], is not used); verify on the board.
LOAD_PRESENT_LD_FRACTION = 0.5

# ---- timing -----------------------------------------------------------------------------------------------------
SLOT_S = 3e-3  # one ADC slot [DS 8.3.x Measurement loop]
LOOP_S = 21 * SLOT_S  # 16 cells + stack/PACK/LD + internal + 3 TS slots = 63 ms [DS]
FULL_SET_LOOPS = 3  # a full set of measurements (PACK, LD, every TS) takes three loops [DS]
SUBCMD_TYPICAL_S = 0.5e-3  # subcommand execution; TI suggests 2 ms or polling 0x3E/0x3F [FACTS; AN]
SUBCMD_POLL_S = 100e-6  # LS2 polls every 100 us, up to 100 times [FACTS: LS2 interface]
SUBCMD_POLLS = 100
CFGUPDATE_S = 2e-3  # SET_CFGUPDATE needs ~2 ms, EXIT ~1 ms [FACTS: LS2I]
T0_K = 273.15


def cell_register(cell_input: int) -> int:
    """Direct command of a 0-based cell input (VC(n+1) - VCn)."""
    return CELL1_VOLTAGE + 2 * cell_input


def channel_map(cell_count: int, inputs: int = 16) -> tuple[int, ...]:
    """0-based cell input of each logical cell: the lower cells on the lowest inputs, the top cell on the top
    input, unused inputs in between shorted (the wiring of the BQ76952 EVM and [TRM "Cell configuration"]:
    the stack is measured at the top pin). VCell Mode then masks the shorted ones out."""
    if not 3 <= cell_count <= inputs:
        raise ValueError(f"bq769x2 with {inputs} inputs supports 3..{inputs} series cells, got {cell_count!r}")
    return (*range(cell_count - 1), inputs - 1)


def vcell_mode(channels: tuple[int, ...]) -> int:
    return sum(1 << ch for ch in channels)


# data-memory defaults the emulator boots with [TRM 13.6 Protections defaults, as recalled; the driver overwrites
# every one of them, so they only matter before init]: COV 86 x 50.6 mV = 4.35 V, CUV 50 = 2.53 V, delays 74 x 3.3
# ms, hysteresis 2, OCC 2 mV... wide enough that a healthy pack does not trip before the host configures the chip
DM_DEFAULTS: tuple[tuple[int, str, int], ...] = (
    (COV_THRESHOLD, "<B", 86),
    (COV_DELAY, "<H", 74),
    (COV_RECOV_HYST, "<B", 2),
    (CUV_THRESHOLD, "<B", 50),
    (CUV_DELAY, "<H", 74),
    (CUV_RECOV_HYST, "<B", 2),
    (OCC_THRESHOLD, "<B", 2),
    (OCC_DELAY, "<B", 4),
    (OCD1_THRESHOLD, "<B", 4),
    (OCD1_DELAY, "<B", 1),
    (OCD2_THRESHOLD, "<B", 3),
    (OCD2_DELAY, "<B", 7),
    (SCD_THRESHOLD, "<B", 0),
    (SCD_DELAY, "<B", 2),
    (SCD_RECOV_TIME, "<B", 5),
    (PROT_RECOVERY_TIME, "<B", 3),
    (OTC_THRESHOLD, "<b", 55),
    (OTC_DELAY, "<B", 2),
    (OTC_RECOVERY, "<b", 50),
    (OTD_THRESHOLD, "<b", 60),
    (OTD_DELAY, "<B", 2),
    (OTD_RECOVERY, "<b", 55),
    (UTC_THRESHOLD, "<b", 0),
    (UTC_DELAY, "<B", 2),
    (UTC_RECOVERY, "<b", 5),
    (UTD_THRESHOLD, "<b", 0),
    (UTD_DELAY, "<B", 2),
    (UTD_RECOVERY, "<b", 5),
)
