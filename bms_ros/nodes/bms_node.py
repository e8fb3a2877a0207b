"""bms_node: reads the AFE, runs the core, publishes what it decided.

Data flows one way: AFE sample -> core (Bms.step) -> FET/balancing commands and publishers. Callbacks are
thin: every safety decision is the core's; services only forward host requests to it.
"""
from __future__ import annotations

import math
import sys
from typing import Any

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger

from bms_ros.afe.base import Afe, AfeError
from bms_ros.afe.factory import apply_sim_faults, apply_sim_inputs, hardware_id, make_afe, pack_model_of
from bms_ros.afe.pack_source import pack_serial
from bms_ros.config import ALL_SPECS, BmsRosConfig, is_ros_owned, load_config, resolve
from bms_ros.core.bms import Bms
from bms_ros.core.hardware_protection import hardware_protection
from bms_ros.core.params import ConfigError, ParamSpec, build, flatten
from bms_ros.core.persistence import StateStore
from bms_ros.core.types import BmsOutput, HardwareProtection, PackSample
from bms_ros.msg import AfeSample, BmsStatus
from bms_ros.msg_fields import sample_from_afe_msg
from bms_ros.nodes.battery_state import fill_battery_state, supply_status
from bms_ros.nodes.charger_outputs import ChargerOutputs
from bms_ros.nodes.diagnostic_tasks import BmsDiagnostics
from bms_ros.nodes.diagnostics import RateMonitor, make_updater
from bms_ros.nodes.host_requests import answer_fet_request, fet_refusal
from bms_ros.nodes.messages import fill_status, sample_to_msg
from bms_ros.nodes.process import StopSignals, run_node
from bms_ros.nodes.qos_events import publisher_events, subscription_events
from bms_ros.nodes.sim_interface import SimInterface
from bms_ros.srv import Unlock

BATTERY_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
MAX_CATCH_UP_SAMPLES = 10   # per timer tick under sim time: a /clock step of up to 10 periods is sampled period by
                            # period; a longer one is a gap (the core's clock handles gaps, core.timebase)


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    d = ParameterDescriptor(description=spec.description + (f" [{spec.unit}]" if spec.unit else ""),
                            read_only=not spec.runtime)
    # numbers: `ros2 param set ... sim.load_current 4` sends an integer, which a YAML file may also give; rclpy
    # would refuse it for a DOUBLE before our callback runs, so the type is checked (and coerced) there instead
    d.dynamic_typing = spec.type in (float, list)
    if spec.choices:
        d.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.type is float and (spec.min is not None or spec.max is not None):
        d.floating_point_range = [FloatingPointRange(
            from_value=float(spec.min if spec.min is not None else -math.inf),
            to_value=float(spec.max if spec.max is not None else math.inf), step=0.0)]
    if spec.type is int and (spec.min is not None or spec.max is not None):
        d.integer_range = [IntegerRange(from_value=int(spec.min if spec.min is not None else -(2**63)),
                                        to_value=int(spec.max if spec.max is not None else 2**63 - 1), step=0)]
    return d


def _plain(value: Any) -> Any:
    """rclpy parameter values (arrays, tuples) -> plain Python."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        return list(value)
    return value


def _as_declared_types(params: list[Parameter]) -> list[Parameter]:
    """Integers given for number parameters become doubles before rclpy stores them (where rclpy has
    pre-set callbacks, Iron and newer), so `ros2 param get` keeps showing a double."""
    out = []
    for p in params:
        spec = ALL_SPECS.get(p.name)
        if spec is not None and spec.type is float and p.type_ == Parameter.Type.INTEGER:
            p = Parameter(p.name, Parameter.Type.DOUBLE, float(p.value))
        elif spec is not None and spec.type is list and p.type_ == Parameter.Type.INTEGER_ARRAY:
            p = Parameter(p.name, Parameter.Type.DOUBLE_ARRAY, [float(v) for v in p.value])
        out.append(p)
    return out


class BmsNode(Node):
    def __init__(self, node_name: str = "bms_node", *, afe: Afe | None = None, **kwargs):
        super().__init__(node_name, **kwargs)
        overrides = getattr(self, "_parameter_overrides", {})
        values = resolve({name: _plain(p.value) for name, p in overrides.items()})  # ConfigError: the reason
        self.cfg: BmsRosConfig = build(BmsRosConfig, values)
        self._log_outside_envelope(self.cfg.envelope_violations())
        for name, value in values.items():
            self.declare_parameter(name, value, _descriptor(ALL_SPECS[name]), ignore_override=True)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        if hasattr(self, "add_pre_set_parameters_callback"):   # Iron+; Humble stores an integer as given
            self.add_pre_set_parameters_callback(_as_declared_types)

        self.replay = self.cfg.afe.type == "replay"
        self.afe = None if self.replay else (afe or make_afe(self.cfg.afe, self.cfg.pack, self.cfg.sim))
        self.bms = Bms(self.cfg, StateStore(self.cfg.state_file) if self.cfg.state_file else None)
        self.hardware_protection: HardwareProtection | None = None
        if self.afe is not None:
            self.bms.balancing_constraints = self.afe.balancing_constraints
            self._program_hardware_protection()
        pack = pack_model_of(self.afe) if self.afe is not None else None
        self.sim = SimInterface(self, pack, self.cfg.sim) if pack is not None else None
        self.command_errors = 0
        self.last_output: BmsOutput | None = None
        self._charger_contact: bool | None = None
        self._last_tick: float | None = None      # node time of the last timer tick (clock jumps back)

        self.battery_pub = self.create_publisher(BatteryState, "battery_state", BATTERY_QOS,
                                                 event_callbacks=publisher_events(self._on_incompatible_qos))
        self.status_pub = self.create_publisher(BmsStatus, "~/status", 10, event_callbacks=publisher_events())
        self.raw_pub = self.create_publisher(AfeSample, "~/afe_raw", 10, event_callbacks=publisher_events())
        self.create_service(SetBool, "~/set_charge_enable", self._on_set_charge_enable)
        self.create_service(SetBool, "~/set_discharge_enable", self._on_set_discharge_enable)
        self.create_service(Trigger, "~/reset_faults", self._on_reset_faults)
        self.create_service(Unlock, "~/unlock", self._on_unlock)
        self.create_subscription(Bool, "charger_present", self._on_charger_present, 10,
                                 event_callbacks=subscription_events())
        self.charger_outputs = ChargerOutputs(self, self.cfg)    # ~/charge_limits, heater, CAN (can.enabled)

        self.hardware_id = hardware_id(self.cfg.afe, self.cfg.pack.cell_count)
        self._sim_time = bool(self.get_parameter("use_sim_time").value)
        self.rate = RateMonitor(self.cfg.rate_hz, sim_time=self._sim_time)
        self.diagnostics = BmsDiagnostics(self, make_updater(self), self.rate, self.hardware_id)
        self._last_replayed: tuple[float, float] | None = None    # (sample stamp, node time received)
        if self.replay:
            self.create_subscription(AfeSample, "~/afe_in", self._on_replayed_sample, 100,
                                     event_callbacks=subscription_events())
            self.timer = self.create_timer(1.0 / self.cfg.rate_hz, self._replay_watchdog)
        else:
            self.timer = self.create_timer(1.0 / self.cfg.rate_hz, self._on_timer)
        self.get_logger().info(
            f"{self.cfg.pack.cell_count}S {self.cfg.pack.chemistry} pack on {self.hardware_id} at "
            f"{self.cfg.rate_hz:g} Hz")

    def _on_incompatible_qos(self, event) -> None:
        self.get_logger().warn(f"battery_state: a subscriber asks for a QoS this publisher cannot offer (policy "
                               f"{event.last_policy_kind}); it receives nothing (BatteryState is RELIABLE, "
                               "VOLATILE, depth 10)", throttle_duration_sec=10.0)

    def _program_hardware_protection(self) -> None:
        if getattr(self.afe, "is_pack_source", False):
            self.get_logger().info("smart pack: its own BMS protections stay primary (not programmable from "
                                   "here); the core supervises on what the pack reports")
            return
        wanted = hardware_protection(self.cfg)
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
            f"SCD {h.short_circuit:.1f} A/{h.short_circuit_delay * 1e6:g} us")

    # ---- the cycle -------------------------------------------------------------------------------------
    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_timer(self) -> None:
        now = self.now()
        if self._last_tick is not None and now < self._last_tick:
            # Gazebo reset, bag play --loop: the simulation re-bases its time, the core's time goes on (one line)
            self.get_logger().warn(f"clock jumped back {self._last_tick - now:.3f} s (to {now:.3f} s): simulation "
                                   "time re-based, protection timing continues on core time")
        for t in self._read_times(now):
            if self.sim is not None:
                self.sim.before_read(t)
            try:
                sample = self.afe.read(t)
            except Exception as e:  # a driver bug must not keep FETs on: the core sees missing data
                self.get_logger().error(f"AFE read failed: {e}", throttle_duration_sec=5.0)
                sample = PackSample.missing(t, self.cfg.pack.cell_count, self.afe.thermistor_count)
            self._process(sample, stamp_s=t)
        self._last_tick = now

    def _read_times(self, now: float) -> list[float]:
        """When to read the pack on this tick: ``now``; and, for a simulated pack under sim time, also every
        period of simulated time since the last tick. A timer fires at most once per /clock update, so a fast or
        coarse /clock (Gazebo at 50x, bag play's 40 Hz) would otherwise sample the simulation below rate_hz;
        the simulated pack can be read at any time up to now, hardware only now."""
        last = self._last_tick
        if self.sim is None or not self._sim_time or last is None or now <= last:
            return [now]
        period = 1.0 / self.cfg.rate_hz
        k = min(int((now - last) / period + 1e-6), MAX_CATCH_UP_SAMPLES)
        return [now - j * period for j in range(k - 1, 0, -1)] + [now]

    def _on_replayed_sample(self, msg: AfeSample) -> None:
        sample = sample_from_afe_msg(msg)
        now = self.now()
        # under use_sim_time the clock reads 0 until /clock arrives: the watchdog starts timing from there
        self._last_replayed = (sample.stamp, now if now > 0.0 else None)
        self._process(sample)

    def _replay_watchdog(self) -> None:
        """Recorded samples stopped arriving: the core must see missing data (and open the FETs)."""
        if self._last_replayed is None:
            return
        stamp, received = self._last_replayed
        now = self.now()
        if received is None:
            if now > 0.0:
                self._last_replayed = (stamp, now)
            return
        silence = now - received
        if silence > 1.5 / self.cfg.rate_hz:
            self._process(PackSample.missing(stamp + silence, self.cfg.pack.cell_count,
                                             max(1, self.cfg.afe.thermistor_count)))

    def _process(self, sample: PackSample, stamp_s: float | None = None) -> None:
        """One sample through the core, the AFE and the publishers (stamped ``stamp_s``, default now)."""
        self.bms.charger_present = self.charger_contact()
        out = self.bms.step(sample)
        self.last_output = out
        if self.afe is not None:
            self._command(out)
        if self.sim is not None:
            self.sim.after_step(out)       # the simulated dock: heater, and charger limits if it follows them
        self._publish(out, self.now() if stamp_s is None else stamp_s)

    def _command(self, out: BmsOutput) -> None:
        try:
            self.afe.apply(out)
        except (AfeError, ValueError) as e:
            self.command_errors += 1
            self.get_logger().warn(f"AFE command failed: {e}", throttle_duration_sec=5.0)

    def _publish(self, out: BmsOutput, stamp_s: float) -> None:
        stamp = Time(nanoseconds=round(stamp_s * 1e9), clock_type=self.get_clock().clock_type).to_msg()
        lost = not out.data_fresh
        msg = BatteryState()
        msg.header.stamp, msg.header.frame_id = stamp, self.cfg.frame_id
        contact = self.charger_contact()
        status = supply_status(out, contact, lost)
        fill_battery_state(msg, out, status, lost, self.cfg.pack.chemistry, self.cfg.pack.design_capacity_ah,
                           self.cfg.location, self.cfg.serial_number or pack_serial(self.afe), contact)
        if lost and self.afe is not None and self.afe.status_reason:
            msg.present = False           # the AFE says why it cannot see the pack (e.g. a chip in SHIP mode)
        self.battery_pub.publish(msg)
        self.rate.tick(stamp_s)
        st = BmsStatus()
        st.header.stamp, st.header.frame_id = stamp, self.cfg.frame_id
        fill_status(st, out)
        st.charger_contact = (BmsStatus.CHARGER_UNKNOWN if contact is None else
                              BmsStatus.CHARGER_CONNECTED if contact else BmsStatus.CHARGER_DISCONNECTED)
        self.status_pub.publish(st)
        raw = AfeSample()
        raw.header.stamp, raw.header.frame_id = stamp, self.cfg.frame_id
        self.raw_pub.publish(sample_to_msg(raw, out.sample))
        self.charger_outputs.publish(out, stamp, self.cfg.frame_id)

    def charger_contact(self) -> bool | None:
        """The charger contact when something tells it (None: unknown, the core infers it from the current)."""
        if self.sim is not None:  # the simulated charger: set by the contact topic and the service alike
            return bool(self.sim.pack.charger_connected)
        return self._charger_contact

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
        if res.success:   # one severity per call site (rclpy caches it)
            self.get_logger().warn(f"~/unlock: {res.message}")
        else:
            self.get_logger().info(f"~/unlock refused: {res.message}")
        return res

    def _on_charger_present(self, msg: Bool) -> None:
        self._charger_contact = bool(msg.data)
        if self.sim is not None:  # in simulation the contact topic is the simulated charger
            self.sim.pack.charger_connected = bool(msg.data)

    # ---- parameters -------------------------------------------------------------------------------------
    def _on_set_parameters(self, params) -> SetParametersResult:
        changed = {p.name: _plain(p.value) for p in params if not is_ros_owned(p.name)}
        for name in changed:
            spec = ALL_SPECS.get(name)
            if spec is None:
                return SetParametersResult(successful=False, reason=f"{name}: unknown parameter")
            if not spec.runtime:
                return SetParametersResult(successful=False, reason=f"{name}: cannot be changed at runtime")
        try:
            values = resolve({**flatten(self.cfg), **changed})
            cfg = load_config(values)
        except ConfigError as e:
            return SetParametersResult(successful=False, reason=str(e))
        if changed:
            before = set(self.cfg.envelope_violations())
            self._log_outside_envelope([v for v in cfg.envelope_violations() if v not in before])
            self.cfg = cfg
            self.bms.set_config(cfg)
            if self.afe is not None and any(n.startswith("protection.") for n in changed):
                self._program_hardware_protection()  # the AFE's backstop follows the software limits
            if self.sim is not None and any(n.startswith("sim.") for n in changed):
                apply_sim_inputs(self.sim.pack, cfg.sim, set(changed))
                if any(n.startswith("sim.fault.") for n in changed):
                    apply_sim_faults(self.afe, cfg.sim.fault)
                self.sim.reconfigure(cfg.sim)
        return SetParametersResult(successful=True)

    def _log_outside_envelope(self, violations: list[str]) -> None:
        """Settings outside the chemistry envelope, accepted only by protection.allow_outside_envelope: loudly."""
        for v in violations:
            self.get_logger().error(f"OUTSIDE THE CHEMISTRY ENVELOPE (accepted by protection.allow_outside_envelope):"
                                    f" {v}")

    # ---- lifecycle ------------------------------------------------------------------------------------
    def safe_shutdown(self) -> None:
        """Persist state and leave the FETs as configured (see parameter shutdown_fets)."""
        try:
            shutdown = getattr(self.bms, "shutdown", None)
            if shutdown is not None:
                shutdown()
            self.charger_outputs.close()
        finally:
            if self.afe is not None:
                try:
                    policy = self.cfg.shutdown_fets
                    if fet_refusal(self.afe):
                        policy = "keep"      # the pack switches its own FETs (e.g. SBS): nothing to command
                    if policy == "off":
                        self.afe.set_fets(False, False)
                    elif policy == "charge_off":
                        s = self.last_output.sample if self.last_output else None
                        self.afe.set_fets(False, bool(s.discharge_fet) if s else False)
                    self.afe.set_balancing(0)
                except (AfeError, ValueError) as e:
                    self.get_logger().error(f"could not set the shutdown FET state: {e}")
                self.afe.close()


def main(argv: list[str] | None = None) -> int:
    """Exit codes (bms_ros.launch_policy): 0 stopped on request, 1 the AFE could not be started, 2 the
    configuration or the command line was rejected (one line on stderr: the reason)."""
    return run_node("bms_node", list(argv if argv is not None else sys.argv), BmsNode, _stop,
                    params_node_name="bms_node")


def _stop(node: BmsNode, stop: StopSignals) -> None:
    if stop.requested:
        node.get_logger().info(f"stopping on {stop.describe()}: saving state, FETs as shutdown_fets="
                               f"{node.cfg.shutdown_fets}")
    node.safe_shutdown()


if __name__ == "__main__":
    sys.exit(main())
