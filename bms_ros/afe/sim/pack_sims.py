"""Build a smart-pack driver over its emulator (``afe.type: sim_sbs / sim_jbd / sim_daly``)."""

from __future__ import annotations

from bms_ros.afe.sim.pack_model import PackModel
from bms_ros.afe.sim.simulated_pack import SimulatedPack

__all__ = ["make_simulated_pack"]


def make_simulated_pack(kind: str, pack: PackModel, cfg, seed: int = 0) -> SimulatedPack:
    """``cfg``: an AfeConfig (thermistor count, SBS PEC); the serial packs talk over pyserial's ``loop://``-like
    in-process link (:class:`bms_ros.afe.serial_link.EmulatedPort`), byte by byte."""
    if kind == "sim_sbs":
        from bms_ros.afe.sbs.driver import SbsPack
        from bms_ros.afe.sbs.emul import SbsEmul

        emul = SbsEmul(pack, address=int(cfg.sbs_address), pec=cfg.sbs_pec != "off", seed=seed)
        return SimulatedPack(pack, emul, SbsPack(emul, pack.cell_count, address=int(cfg.sbs_address), pec=cfg.sbs_pec))
    nts = max(1, int(cfg.thermistor_count))
    if kind == "sim_jbd":
        from bms_ros.afe.jbd.driver import JbdPack
        from bms_ros.afe.jbd.emul import JbdEmul

        jemul = JbdEmul(pack, thermistor_count=nts, seed=seed)
        return SimulatedPack(pack, jemul, JbdPack(jemul.port(), pack.cell_count, nts))
    if kind == "sim_daly":
        from bms_ros.afe.daly.driver import DalyPack
        from bms_ros.afe.daly.emul import DalyEmul

        demul = DalyEmul(pack, thermistor_count=nts, seed=seed)
        if getattr(cfg, "daly_link", "uart") == "can":
            from bms_ros.afe.daly.can_emul import DalyCanEmul

            cemul = DalyCanEmul(demul)
            return SimulatedPack(
                pack,
                cemul,
                DalyPack(None, pack.cell_count, nts, can_bus=cemul.host_bus(), timeout=float(cfg.serial_timeout)),
            )
        return SimulatedPack(pack, demul, DalyPack(demul.port(), pack.cell_count, nts))
    raise ValueError(f"no smart-pack emulator for afe.type {kind!r}")
