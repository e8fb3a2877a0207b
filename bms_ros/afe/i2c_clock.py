"""The I2C adapter's clock, where Linux makes it knowable, against a chip's limit.

On device-tree systems (Raspberry Pi, Jetson, most ARM boards) the bus speed is the adapter node's
``clock-frequency`` property [Linux Documentation/devicetree/bindings/i2c/i2c.txt], exposed as a big-endian
32-bit cell under ``/sys/class/i2c-adapter/i2c-N/of_node/``. Elsewhere (x86 ACPI, USB adapters) it is not
knowable from user space: no warning then.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def adapter_clock_hz(bus: int, sysfs: Path | str = "/sys") -> int | None:
    """The configured SCL frequency of /dev/i2c-``bus`` in Hz, or None when the system does not say."""
    path = Path(sysfs) / "class" / "i2c-adapter" / f"i2c-{int(bus)}" / "of_node" / "clock-frequency"
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    return int.from_bytes(raw, "big") if len(raw) == 4 else None


def warn_if_faster(bus: int, limit_hz: float, chip: str, sysfs: Path | str = "/sys") -> bool:
    """Log a warning when the adapter runs faster than ``chip`` allows; False then, True otherwise."""
    hz = adapter_clock_hz(bus, sysfs)
    if hz is None or hz <= limit_hz:
        return True
    log.warning(
        "/dev/i2c-%d runs at %g kHz, but the %s allows at most %g kHz: expect NACKs and CRC errors; set "
        "the bus to %g kHz (e.g. dtparam=i2c_arm_baudrate=%d on a Raspberry Pi)",
        bus,
        hz / 1e3,
        chip,
        limit_hz / 1e3,
        limit_hz / 1e3,
        int(limit_hz),
    )
    return False
