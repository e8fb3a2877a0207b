"""bms_node: reads the AFE, runs the core, publishes what it decided.

Data flows one way: AFE sample -> core (Bms.step) -> FET/balancing commands and publishers. Callbacks are
thin: every safety decision is the core's; services only forward host requests to it.
"""

from __future__ import annotations

import sys

from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger

from bms_ros.afe import Afe, AfeError, apply_sim_faults, apply_sim_inputs, hardware_id, make_afe, pack_model_of
from bms_ros.config import BmsRosConfig
from bms_ros.core import (
    Bms,
    BmsOutput,
    HardwareProtection,
    PackSample,
    StateStore,
    hardware_protection_settings,
    shutdown_fet_state,
)
from bms_ros.nodes.diagnostic_tasks import BmsDiagnostics
from bms_ros.nodes.diagnostics import RateMonitor, make_updater
from bms_ros.nodes.host_requests import answer_fet_request, fet_refusal
from bms_ros.nodes.node_params import check_change, declare_config
from bms_ros.nodes.process import StopSignals, run_node
from bms_ros.nodes.publishers import BATTERY_QOS, BmsPublishers
from bms_ros.nodes.qos_events import subscription_events
from bms_ros.nodes.sample_sources import AfeTimer, ReplayInput
from bms_ros.nodes.sim_interface import SimInterface
from bms_ros.srv import Unlock

__all__ = ["BATTERY_QOS", "BmsNode", "main"]


class BmsNode(Node):
    def __init__(self, node_name: str = "bms_node", *, afe: Afe | None = None, **kwargs):
        kwargs.setdefault("automatically_declare_parameters_from_overrides", True)
        super().__init__(node_name, **kwargs)
        self.cfg: BmsRosConfig = declare_config(self)  # ConfigError: the reason, exit 2
        self._log_outside_envelope(self.cfg.envelope_violations())
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self.replay = self.cfg.afe.type == "replay"
        self.afe = None if self.replay else (afe or make_afe(self.cfg.afe, self.cfg.pack, self.cfg.sim))
        self.bms = Bms(self.cfg, StateStore(self.cfg.state_file) if self.cfg.state_file else None)
        self.hardware_protection: HardwareProtection | None = None
        if self.afe is not None:
            self.bms.balancing_constraints = self.afe.balancing_constraints
            self._program_hardware_protection()
        pack = pack_model_of(self.afe) if self.afe is not None else None
        self.sim = SimInterface(self, pack, self.cfg.sim, self.set_charger_contact) if pack is not None else None
        self.command_errors = 0
        self.last_output: BmsOutput | None = None
        # the charger contact: None until something tells it (the core then infers charging from the current);
        # a simulated pack's charger is known from the start and changes through set_charger_contact, as the
        # contact topic changes it on a robot
        self._charger_contact: bool | None = bool(self.cfg.sim.charger_connected) if self.sim else None

        self.outputs = BmsPublishers(self, self.cfg)
        self.create_service(SetBool, "~/set_charge_enable", self._on_set_charge_enable)
        self.create_service(SetBool, "~/set_discharge_enable", self._on_set_discharge_enable)
        self.create_service(Trigger, "~/reset_faults", self._on_reset_faults)
        self.create_service(Unlock, "~/unlock", self._on_unlock)
        self.create_subscription(
            Bool, "charger_present", self._on_charger_present, 10, event_callbacks=subscription_events()
        )

        self.hardware_id = hardware_id(self.cfg.afe, self.cfg.pack.cell_count)
        sim_time = bool(self.get_parameter("use_sim_time").value)
        self.rate = RateMonitor(self.cfg.rate_hz, sim_time=sim_time)
        self.diagnostics = BmsDiagnostics(self, make_updater(self), self.rate, self.hardware_id)
        if self.afe is None:
            self.source: AfeTimer | ReplayInput = ReplayInput(
                self, self.cfg.rate_hz, self.cfg.pack.cell_count, self.cfg.afe.thermistor_count, self._process
            )
        else:
            self.source = AfeTimer(
                self, self.afe, self.cfg.rate_hz, self.cfg.pack.cell_count, self._process, self.sim, sim_time
            )
        self.get_logger().info(
            f"{self.cfg.pack.cell_count}S {self.cfg.pack.chemistry} pack on {self.hardware_id} at "
            f"{self.cfg.rate_hz:g} Hz"
        )

    def _program_hardware_protection(self) -> None:
        if getattr(self.afe, "is_pack_source", False):
            self.get_logger().info(
                "smart pack: its own BMS protections stay primary (not programmable from "
                "here); the core supervises on what the pack reports"
            )
            return
        wanted = hardware_protection_settings(self.cfg)
        try:
            self.hardware_protection = self.afe.configure_protection(wanted)
        except AfeError as e:  # the chip may still be booting; the core protects and the driver re-inits
            self.get_logger().error(f"could not program the AFE's hardware protection: {e}")
            return
        h = self.hardware_protection
        self.get_logger().info(
            f"AFE protection: OV {h.cell_overvoltage:.3f} V/{h.cell_overvoltage_delay:g} s, "
            f"UV {h.cell_undervoltage:.3f} V/{h.cell_undervoltage_delay:g} s, "
            f"OCD {h.discharge_overcurrent:.1f} A/{h.discharge_overcurrent_delay * 1e3:g} ms, "
            f"SCD {h.short_circuit:.1f} A/{h.short_circuit_delay * 1e6:g} us"
        )

    # ---- the cycle -------------------------------------------------------------------------------------
    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _process(self, sample: PackSample, stamp_s: float | None = None) -> None:
        """One sample through the core, the AFE and the publishers (stamped ``stamp_s``, default now)."""
        self.bms.charger_present = self.charger_contact()
        out = self.bms.step(sample)
        self.last_output = out
        if self.afe is not None:
            self._command(out)
        if self.sim is not None:
            self.sim.after_step(out)  # the simulated dock: heater, and charger limits if it follows them
        stamp_s = self.now() if stamp_s is None else stamp_s
        self.outputs.publish(out, stamp_s, self.charger_contact(), self.afe)
        self.rate.tick(stamp_s)
        self.bms.persist()  # after publishing: a slow disk never delays what consumers see

    def _command(self, out: BmsOutput) -> None:
        try:
            self.afe.apply(out)
        except (AfeError, ValueError) as e:
            self.command_errors += 1
            self.get_logger().warn(f"AFE command failed: {e}", throttle_duration_sec=5.0)

    def charger_contact(self) -> bool | None:
        """The charger contact when something tells it (None: unknown, the core infers it from the current)."""
        return self._charger_contact

    def set_charger_contact(self, connected: bool) -> None:
        """The contact topic, the simulator's service and ``sim.charger_connected`` alike: in simulation the
        contact is also what connects the simulated charger."""
        self._charger_contact = bool(connected)
        if self.sim is not None:
            self.sim.connect_charger(bool(connected))

    # ---- host requests ----------------------------------------------------------------------------------
    def _on_set_charge_enable(self, req: SetBool.Request, res: SetBool.Response) -> SetBool.Response:
        res.success, res.message = answer_fet_request(self.bms, self.afe, charge=True, on=bool(req.data))
        return res

    def _on_set_discharge_enable(self, req: SetBool.Request, res: SetBool.Response) -> SetBool.Response:
        res.success, res.message = answer_fet_request(self.bms, self.afe, charge=False, on=bool(req.data))
        return res

    def _on_reset_faults(self, req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        cleared, remaining = self.bms.reset_faults(self.now())
        res.success = not remaining
        why = [f"{n} ({self.bms.remaining_reason(n)})" if self.bms.remaining_reason(n) else n for n in remaining]
        res.message = f"cleared: {', '.join(cleared) or 'none'}; remaining: {', '.join(why) or 'none'}"
        return res

    def _on_unlock(self, req: Unlock.Request, res: Unlock.Response) -> Unlock.Response:
        res.success, res.message = self.bms.unlock(req.code, self.now())
        if res.success:  # one severity per call site (rclpy caches it)
            self.get_logger().warn(f"~/unlock: {res.message}")
        else:
            self.get_logger().info(f"~/unlock refused: {res.message}")
        return res

    def _on_charger_present(self, msg: Bool) -> None:
        self.set_charger_contact(bool(msg.data))

    # ---- parameters -------------------------------------------------------------------------------------
    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        change = check_change(self.cfg, params)
        if isinstance(change, str):
            return SetParametersResult(successful=False, reason=change)
        if change.changed:
            cfg, changed = change.cfg, change.changed
            before = set(self.cfg.envelope_violations())
            self._log_outside_envelope([v for v in cfg.envelope_violations() if v not in before])
            self.cfg = self.outputs.cfg = cfg
            self.bms.set_config(cfg)
            if self.afe is not None and any(n.startswith("protection.") for n in changed):
                self._program_hardware_protection()  # the AFE's backstop follows the software limits
            if self.sim is not None and any(n.startswith("sim.") for n in changed):
                apply_sim_inputs(self.sim.pack, cfg.sim, set(changed))
                if "sim.charger_connected" in changed:
                    self.set_charger_contact(cfg.sim.charger_connected)
                if any(n.startswith("sim.fault.") for n in changed):
                    apply_sim_faults(self.afe, cfg.sim.fault)
                self.sim.reconfigure(cfg.sim)
        return SetParametersResult(successful=True)

    def _log_outside_envelope(self, violations: list[str]) -> None:
        """Settings outside the chemistry envelope, accepted only by protection.allow_outside_envelope: loudly."""
        for v in violations:
            self.get_logger().error(
                f"OUTSIDE THE CHEMISTRY ENVELOPE (accepted by protection.allow_outside_envelope): {v}"
            )

    # ---- lifecycle ------------------------------------------------------------------------------------
    def safe_shutdown(self) -> None:
        """Persist state and leave the FETs as configured (see parameter shutdown_fets)."""
        try:
            shutdown = getattr(self.bms, "shutdown", None)
            if shutdown is not None:
                shutdown()
            self.outputs.charger.close()
        finally:
            if self.afe is not None:
                try:
                    # a pack that switches its own FETs (e.g. SBS) gets nothing to command
                    policy = "keep" if fet_refusal(self.afe) else self.cfg.shutdown_fets
                    s = self.last_output.sample if self.last_output else None
                    state = shutdown_fet_state(policy, s.charge_fet if s else None, s.discharge_fet if s else None)
                    if state is not None:
                        self.afe.set_fets(*state)
                    self.afe.set_balancing(0)
                except (AfeError, ValueError) as e:
                    self.get_logger().error(f"could not set the shutdown FET state: {e}")
                self.afe.close()


def main(argv: list[str] | None = None) -> int:
    """Exit codes (bms_ros.launch_policy): 0 stopped on request, 1 the AFE could not be started, 2 the
    configuration or the command line was rejected (one line on stderr: the reason)."""
    return run_node(
        "bms_node", list(argv if argv is not None else sys.argv), BmsNode, _stop, params_node_name="bms_node"
    )


def _stop(node: BmsNode, stop: StopSignals) -> None:
    if stop.requested:
        node.get_logger().info(
            f"stopping on {stop.describe()}: saving state, FETs as shutdown_fets={node.cfg.shutdown_fets}"
        )
    node.safe_shutdown()


if __name__ == "__main__":
    sys.exit(main())
