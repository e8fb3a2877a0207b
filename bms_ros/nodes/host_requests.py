"""The node's answers to ``~/set_charge_enable`` and ``~/set_discharge_enable``.

The core decides (``Bms.set_charge_enable`` / ``set_discharge_enable``: remembered, never overriding a
protection). Two things only the pack source knows are added here: a smart pack that takes no FET command
refuses (its decisions are reported in ``~/status``, not pretended), and a pack whose own BMS holds the FET
open says so, naming its protection.
"""

from __future__ import annotations

from bms_ros.afe import Afe, pack_blocks
from bms_ros.core import Bms

__all__ = ["answer_fet_request", "fet_refusal"]


def fet_refusal(afe: Afe | None) -> str:
    """Why host FET requests cannot be carried out ('' when they can): a pack that takes no FET command."""
    if afe is not None and getattr(afe, "is_pack_source", False) and not getattr(afe, "accepts_fet_commands", True):
        return f"refused: {afe.fet_refusal} (the core's FET decisions are reported in ~/status only)"  # type: ignore[attr-defined]
    return ""


def _pack_block(bms: Bms, charge: bool) -> str:
    """Why the pack's own BMS keeps that FET open now ('' when it does not, or with an AFE)."""
    out = bms.last_output
    rep = out.view.pack_report if out is not None else None
    blocks = pack_blocks(rep.protection, charge) if rep is not None else []
    return f"the pack's own BMS blocks {'charging' if charge else 'discharging'}: {', '.join(blocks)}" if blocks else ""


def answer_fet_request(bms: Bms, afe: Afe | None, charge: bool, on: bool) -> tuple[bool, str]:
    """(success, message) for a host request to enable (``on``) or disable a FET."""
    why = fet_refusal(afe)
    if why:
        return False, why
    ok, message = bms.set_charge_enable(on) if charge else bms.set_discharge_enable(on)
    block = _pack_block(bms, charge) if ok and on else ""
    if block:
        return False, f"{'charge' if charge else 'discharge'} enable remembered, but {block}"
    return ok, message
