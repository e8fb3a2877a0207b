"""Boot / re-init sequence of the bq769x0 driver (:mod:`driver`), as a mixin of :class:`Bq769x0Afe`.

``init`` checks the link by writing CC_CFG = 0x19 and reading it back, reads the factory ADC gain/offset, enables
the ADC (TEMP_SEL for thermistors), enables the coulomb counter *keeping the present FET state* (re-initialising a
driver must not cut the robot's power), stops balancing and programs the hardware protections. The driver re-runs
it when it sees the chip come out of a reset (CC_EN reads 0) and after it clears DEVICE_XREADY
(``_xready_recovery``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bms_ros.afe.base import AfeError
from bms_ros.afe.bq769x0 import registers as r
from bms_ros.afe.bq769x0.interface import Bq769x0Bus, CommError
from bms_ros.afe.bq769x0.temp_sel import TempSelSweep
from bms_ros.core.types import HardwareProtection

if TYPE_CHECKING:
    from bms_ros.afe.bq769x0.interface import Bq769x0Errors


class Bq769x0Boot:
    """Init, boot-state reporting and re-init of :class:`bms_ros.afe.bq769x0.driver.Bq769x0Afe`."""

    io: Bq769x0Bus
    chip: r.Chip
    gain_uv: float
    offset_mv: float
    xready_recovery_s: float | None
    _ts: TempSelSweep
    _cold: str | None
    _wanted_protection: HardwareProtection
    _initialized: bool
    _init_reason: str
    _protection_pending: bool
    _xready_since: float | None

    if TYPE_CHECKING:

        @property
        def address(self) -> int: ...
        @property
        def crc(self) -> bool: ...
        @property
        def errors(self) -> Bq769x0Errors: ...
        def _configure_protection(self, wanted: HardwareProtection) -> HardwareProtection: ...
        def _try(self, fn) -> bool: ...

    def init(self) -> None:
        """Boot sequence (see the module docstring). Raises AfeError if the chip does not answer."""
        try:
            self._init()
        except CommError as e:
            raise AfeError(f"bq769x0 init failed at {self.address:#04x} (crc={self.crc}): {e}") from None

    @property
    def status_reason(self) -> str:
        if not self._initialized:
            return self._init_reason
        if self._protection_pending:
            return (
                "hardware protection not programmed yet: the chip enforces its reset defaults (OV 4.25 V); "
                "retrying at every read"
            )
        return ""

    def _explain(self, error: str) -> str:
        if "NACK" in error.upper() or "ACK" in error or "EREMOTEIO" in error or "Errno 121" in error:
            return (
                f"no answer from the bq769x0 at {self.address:#04x}: a chip that has not had its TS1 boot pulse "
                f"stays in SHIP mode (or the address/CRC setting is wrong); retrying ({error})"
            )
        return f"bq769x0 not initialised: {error}; retrying"

    def _init(self) -> None:
        self.io.write(r.CC_CFG, [r.CC_CFG_VALUE])  # [DS p.35]
        got = self.io.read(r.CC_CFG, 1)[0] & r.CC_CFG_MASK
        if got != r.CC_CFG_VALUE:
            raise CommError(f"CC_CFG reads back {got:#04x}, not 0x19: wrong address or CRC setting?")
        g1, off = self.io.read(r.ADCGAIN1, 2)  # 0x50, 0x51 [DS p.36-37]
        (g2,) = self.io.read(r.ADCGAIN2, 1)  # 0x59
        self.gain_uv = float(r.decode_gain_uv(g1, g2))
        self.offset_mv = float(r.decode_offset_mv(off))
        ctrl1, ctrl2 = self.io.read(r.SYS_CTRL1, 2)
        if not ctrl2 & r.CTRL2_CC_EN:
            # CC_EN = 0: the chip is fresh from a reset, nothing converted yet (cells read OFFSET, the die 310
            # degC, CC 0 A): invalid until the first 250 ms conversion and the first 2 s temperature [DS p.18-21]
            self._cold = "reset"
            self._ts.restart_settle()
        if (ctrl1 ^ self._ctrl1()) & r.CTRL1_TEMP_SEL:
            # the TS registers hold the other sensor until the next 2 s temperature conversion [DS p.21]
            self._ts.restart_settle()
        self.io.write(r.SYS_CTRL1, [self._ctrl1()])
        self.io.write(r.SYS_CTRL2, [r.CTRL2_CC_EN | (ctrl2 & (r.CTRL2_DSG_ON | r.CTRL2_CHG_ON))])
        self.io.write(r.CELLBAL1, [0] * self.chip.groups)
        self._configure_protection(self._wanted_protection)
        self._initialized = True
        self._init_reason = ""

    def _xready_recovery(self, now: float, stat: int) -> None:
        if not stat & r.STAT_DEVICE_XREADY:
            self._xready_since = None
            return
        if self._xready_since is None:
            self._xready_since = now
        if self.xready_recovery_s is not None and now - self._xready_since >= self.xready_recovery_s:
            if self._try(lambda: self.io.write(r.SYS_STAT, [r.STAT_DEVICE_XREADY])):
                self._xready_since = None
                self._try(self._reinit)  # FETs stay off and balancing stopped: the host decides [DS p.24]

    def _ctrl1(self) -> int:
        return r.ctrl1(self._ts.temp_sel)

    def _reinit(self) -> None:
        self.errors.reinit += 1
        self._ts.on_reinit()
        self._init()
