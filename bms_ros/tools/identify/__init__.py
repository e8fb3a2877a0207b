"""``bms-identify``: a chemistry table (OCV curve, R0, two RC pairs, diffusion lag) and the capacity, fitted
from the robot's own recordings. Optional: needs scipy (the ``identify`` extra); the node never imports it."""

from bms_ros.tools.identify.cli import identify_files, main
from bms_ros.tools.identify.fit import Fit, identify
from bms_ros.tools.identify.recording import IdentifyError, Recording, from_samples, load
from bms_ros.tools.identify.table import write_table

__all__ = [
    "Fit",
    "IdentifyError",
    "Recording",
    "from_samples",
    "identify",
    "identify_files",
    "load",
    "main",
    "write_table",
]
