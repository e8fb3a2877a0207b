"""Cell chemistry data: open-circuit voltage curves, equivalent-circuit parameters and limits.

One import path for three modules: the ``Chemistry`` model and its curve math (``core.chemistry_model``),
the built-in tables (``core.chemistry_builtin``) and the user-table loader (``core.chemistry_tables``).
"""

from bms_ros.core.chemistry_builtin import CHEMISTRIES, get_chemistry
from bms_ros.core.chemistry_model import T_REF_C, Chemistry
from bms_ros.core.chemistry_tables import ChemistryTableError, load_chemistry_table

__all__ = ["CHEMISTRIES", "T_REF_C", "Chemistry", "ChemistryTableError", "get_chemistry", "load_chemistry_table"]
