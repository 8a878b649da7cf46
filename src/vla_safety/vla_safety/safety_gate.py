"""`safety_gate`: the only path to the actuators (thin rclpy node over `vla_safety.core`).

Base mode: `cmd_vel_in` (Twist) -> `cmd_vel`, published on a fixed-rate timer, always (zeros
when stopping), plus right after each command when `publish_on_input` is set.
Arm mode: `arm_cmd_in` (ArmCommand) -> `arm_cmd`, streamed on the timer (an end-effector
delta also right on arrival with `publish_on_input`); on a fault one
MODE_HOLD (the arm keeps its last target) or, for the e-stop only, one MODE_STOP (the driver's
hard stop), then nothing.
Both: `estop` (true engages, latched; false is ignored), `heartbeat`, `~/trigger_estop`,
`~/reset_estop`, `~/state` (latched), `/diagnostics`.

Engaging the e-stop publishes the stop from the callback itself, not on the next tick.

A command or heartbeat that took longer than its timeout from the policy to the gate (DDS
source vs reception timestamp; a reliable writer's last sample delivered when a link comes
back) is refused as stale: it cannot restart motion (the hosts' clocks must agree to well
within the timeouts; a gate clock ahead by more refuses everything, which fails closed).
A heartbeat is also judged by its header stamp against the gate's ROS clock (sim time under
use_sim_time, as the policy's stamp): this is the only lateness check where rclpy gives no
message info (Humble). Unstamped heartbeats (stamp 0) are judged by DDS transit alone.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, List, Optional, Tuple, Union

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Twist
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.subscription import Subscription
from sensor_msgs.msg import JointState, LaserScan
from std_msgs.msg import Bool, Header
from vla_common import topics
from vla_common.node_main import install_interrupt_handlers, run_node
from vla_common.planar import quaternion_to_yaw, Twist2D
from vla_common.qos import COMMAND_QOS, LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from visualization_msgs.msg import Marker, MarkerArray
from vla_msgs.msg import ArmCommand, SafetyState
from vla_msgs.srv import Estop

from vla_safety.core.config import (ArmGateConfig, BaseGateConfig, build, ConfigError, SPECS,
                                    with_changes)
from vla_safety.core.gate import (ArmDecision, ArmGate, ArmInput, ArmOutput, BaseDecision,
                                  BaseGate)
from vla_safety.core.outlines import base_outlines
from vla_safety.core.reasons import (GateState, LIMIT_REASONS, Reason, reason_names,
                                     STOP_REASONS)
from vla_safety.core.watchdog import lateness, stamp_age
from vla_safety.parameters import declare_parameters

Decision = Union[BaseDecision, ArmDecision]

_NAN_TWIST = Twist2D(math.nan, math.nan, math.nan)
#: s to wait, per publisher, for readers to acknowledge the last stop before going away.
SHUTDOWN_ACK_TIMEOUT = 0.5
#: s between log lines for OK <-> LIMITED flips (transitions to a stop are always logged).
LIMIT_LOG_PERIOD = 2.0


#: rclpy (Iron and later) passes the DDS message info to two-argument callbacks; without it
#: the transit time of a sample is unknown and late samples cannot be refused.
WITH_MESSAGE_INFO = hasattr(Subscription, 'CallbackType')


def transit_time(info: Any) -> Optional[float]:
    """Seconds from the writer's source timestamp to the reception (`MessageInfo`; the system
    clocks of the two hosts), None when the RMW gave no timestamps."""
    src, rcv = info['source_timestamp'], info['received_timestamp']
    return (rcv - src) * 1e-9 if src and rcv else None


def with_transit(callback: Callable[[Any, Optional[float]], None]) -> Callable[..., None]:
    """`callback(msg, transit)` as a subscription callback (transit None without info)."""
    if WITH_MESSAGE_INFO:
        return lambda msg, info: callback(msg, transit_time(info))
    return lambda msg: callback(msg, None)


class SafetyGateNode(Node):
    """The safety gate node; all decisions are made by `BaseGate` / `ArmGate`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(topics.SAFETY_NODE, **kwargs)
        self._values = declare_parameters(self)
        self._settings, config = build(self._values)
        self._base = isinstance(config, BaseGateConfig)
        self._base_gate = BaseGate(config) if isinstance(config, BaseGateConfig) else None
        self._arm_gate = ArmGate(config) if isinstance(config, ArmGateConfig) else None
        self._gate: Union[BaseGate, ArmGate] = self._base_gate or self._arm_gate  # type: ignore
        self._ros_time = self._settings.time_source == 'ros'
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._last_key: Optional[Tuple[int, int, str]] = None
        self._last_sent_twist = Twist()
        self._last_sent_arm = ArmCommand(mode=ArmCommand.MODE_HOLD)
        self._last_decision: Optional[Decision] = None
        self._published = 0

        if self._base:
            self._cmd_pub = self.create_publisher(Twist, topics.CMD_VEL, COMMAND_QOS)
            self.create_subscription(Twist, topics.CMD_VEL_IN, with_transit(self._on_twist),
                                     COMMAND_QOS)
            self.create_subscription(Odometry, topics.ODOM, self._on_odom, SENSOR_QOS)
            self.create_subscription(LaserScan, topics.SCAN, self._on_scan, SENSOR_QOS)
        else:
            self._arm_pub = self.create_publisher(ArmCommand, topics.ARM_CMD, COMMAND_QOS)
            self.create_subscription(ArmCommand, topics.ARM_CMD_IN,
                                     with_transit(self._on_arm_command), COMMAND_QOS)
            self.create_subscription(JointState, topics.JOINT_STATES, self._on_joint_states,
                                     SENSOR_QOS)
        # E-stop: the latched subscription gets the last value from transient-local publishers
        # (an e-stop asserted before the gate started); the best-effort volatile one matches
        # every publisher, so a default-QoS `estop` publisher cannot be silently incompatible.
        # Duplicates are harmless: engaging is idempotent.
        self.create_subscription(Bool, topics.ESTOP, self._on_estop, LATCHED_QOS)
        self.create_subscription(Bool, topics.ESTOP, self._on_estop, SENSOR_QOS)
        self.create_subscription(Header, topics.HEARTBEAT, with_transit(self._on_heartbeat),
                                 COMMAND_QOS)
        self._state_pub = self.create_publisher(SafetyState, topics.SAFETY_STATE, LATCHED_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, RELIABLE_QOS)
        self._marker_pub = None
        if self._base:
            # What the gate enforces, for RViz / Foxglove (latched; again on reconfiguration).
            self._marker_pub = self.create_publisher(MarkerArray, '~/markers', LATCHED_QOS)
            self._publish_markers(config)
        self.create_service(Estop, topics.TRIGGER_ESTOP, self._on_trigger)
        self.create_service(Estop, topics.RESET_ESTOP, self._on_reset)
        # Steady-clock timers: a stalled /clock (paused simulator) must not stop the zeros.
        self.create_timer(1.0 / self._settings.rate, self._on_tick, clock=self._steady)
        self.create_timer(1.0 / self._settings.state_rate, self._on_status_timer,
                          clock=self._steady)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info(
            f'safety gate up: mode={self._settings.mode} rate={self._settings.rate:g} Hz '
            f'time_source={self._settings.time_source} '
            + (f'clock_timeout={config.supervisor.clock_timeout:g} s '
               if self._ros_time else '') +
            f'start_latched={config.supervisor.start_latched}')
        if not WITH_MESSAGE_INFO:
            self.get_logger().warning('this rclpy gives subscriptions no message info: '
                                      'commands delivered late cannot be refused as stale; '
                                      'heartbeats are judged by their header stamp only '
                                      '(unstamped ones not at all)')
        self._on_tick()

    # --- time ---------------------------------------------------------------------------------
    def _now(self) -> float:
        if self._ros_time:
            now = self.get_clock().now().nanoseconds * 1e-9
            # A stalled /clock freezes every watchdog on it: watch the clock itself on the
            # wall clock (CLOCK_STALLED after clock_timeout).
            self._gate.supervisor.observe_clock(now, time.monotonic())
            return now
        return time.monotonic()

    # --- inputs -------------------------------------------------------------------------------
    def _refused_stale(self, refused_before: int) -> bool:
        """Whether the input just given to the gate was refused as stale (logged)."""
        if self._gate.late_refused == refused_before:
            return False
        self.get_logger().warning(self._gate.late_refusal, throttle_duration_sec=2.0)
        return True

    def _on_twist(self, msg: Twist, transit: Optional[float]) -> None:
        now = self._now()
        lin, ang = msg.linear, msg.angular
        fields = (lin.x, lin.y, lin.z, ang.x, ang.y, ang.z)
        # NaN/Inf anywhere rejects the whole command, even in axes a planar base ignores.
        cmd = (Twist2D(lin.x, lin.y, ang.z) if all(math.isfinite(v) for v in fields)
               else _NAN_TWIST)
        assert self._base_gate is not None
        refused = self._gate.late_refused
        self._base_gate.on_command(cmd, now, transit)
        if self._refused_stale(refused):
            return
        if self._settings.publish_on_input:
            self._publish(self._base_gate.step(now))

    def _on_arm_command(self, msg: ArmCommand, transit: Optional[float]) -> None:
        assert self._arm_gate is not None
        now = self._now()
        refused = self._gate.late_refused
        self._arm_gate.on_command(ArmInput(int(msg.mode), tuple(msg.ee_delta),
                                           tuple(msg.joint_positions), float(msg.gripper)),
                                  now, transit)
        if self._refused_stale(refused):
            return
        # A delta's step cap is per command, not per tick: gating it on arrival adds no motion,
        # only takes the wait for the next tick out of the latency. Joint targets stream on the
        # timer (their step is per tick).
        if self._settings.publish_on_input and \
                msg.mode == ArmCommand.MODE_END_EFFECTOR_DELTA:
            self._publish(self._arm_gate.step(now))

    def _on_odom(self, msg: Odometry) -> None:
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        assert self._base_gate is not None
        self._base_gate.on_odom(p.x, p.y, quaternion_to_yaw(q.x, q.y, q.z, q.w), self._now())

    def _on_scan(self, msg: LaserScan) -> None:
        assert self._base_gate is not None
        if not self._base_gate.on_scan(msg.angle_min, msg.angle_increment, msg.range_min,
                                       msg.range_max, msg.ranges, self._now(),
                                       msg.header.frame_id):
            self.get_logger().error(f'LaserScan refused: {self._base_gate.scan_refusal}',
                                    throttle_duration_sec=5.0)

    def _on_joint_states(self, msg: JointState) -> None:
        assert self._arm_gate is not None
        if not self._arm_gate.on_joint_states(list(msg.name), list(msg.position), self._now()):
            self.get_logger().warn('dropped joint_states: missing joints or non-finite values',
                                   throttle_duration_sec=5.0)

    def _on_heartbeat(self, msg: Header, transit: Optional[float]) -> None:
        refused = self._gate.late_refused
        age = stamp_age(msg.stamp.sec + msg.stamp.nanosec * 1e-9,
                        self.get_clock().now().nanoseconds * 1e-9)
        self._gate.on_heartbeat(self._now(), lateness(transit, age))
        self._refused_stale(refused)

    def _on_estop(self, msg: Bool) -> None:
        if msg.data:
            self._engage('estop topic')
        else:
            self.get_logger().info('estop=false received: ignored (reset only via '
                                   f'{self.get_name()}/reset_estop)',
                                   throttle_duration_sec=5.0)

    def _engage(self, reason: str) -> None:
        now = self._now()
        newly = self._gate.engage_estop(reason, now)
        self._publish(self._gate.step(now))   # the stop goes out now, not on the next tick
        if newly:
            self.get_logger().warn(f'E-STOP engaged: {reason}')

    def _on_trigger(self, request: Estop.Request, response: Estop.Response) -> Estop.Response:
        reason = request.reason or 'trigger_estop service'
        self._engage(reason)
        response.success = True
        response.message = f'e-stop engaged ({self._gate.supervisor.estop.reason})'
        return response

    def _on_reset(self, request: Estop.Request, response: Estop.Response) -> Estop.Response:
        now = self._now()
        ok, message = self._gate.reset_estop(now)
        response.success, response.message = ok, message
        text = f'reset_estop ({request.reason or "no reason"}): {message}'
        # one call site per severity (rclpy refuses a site that changes severity)
        if ok:
            self.get_logger().info(text)
        else:
            self.get_logger().warning(text)
        self._publish(self._gate.step(now))
        return response

    # --- outputs ------------------------------------------------------------------------------
    def _on_tick(self) -> None:
        self._publish(self._gate.step(self._now()))

    def _publish(self, decision: Decision) -> None:
        if isinstance(decision, BaseDecision):
            msg = Twist()
            msg.linear.x, msg.linear.y, msg.angular.z = decision.cmd.as_tuple()
            self._cmd_pub.publish(msg)
            self._last_sent_twist = msg
            self._published += 1
        elif decision.output is not None:
            msg_arm = self._arm_message(decision.output)
            self._arm_pub.publish(msg_arm)
            self._last_sent_arm = msg_arm
            self._published += 1
        previous = self._last_decision
        self._last_decision = decision
        key = (int(decision.state), int(decision.reasons), decision.estop_reason)
        if key != self._last_key:
            self._last_key = key
            self._publish_state(decision)
            self._log_change(previous, decision)

    def _arm_message(self, out: ArmOutput) -> ArmCommand:
        msg = ArmCommand()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.mode = out.mode
        msg.ee_delta = [float(v) for v in out.ee_delta]
        msg.joint_positions = [float(v) for v in out.joint_positions]
        msg.gripper = float(out.gripper)
        return msg

    def _log_change(self, previous: Optional[Decision], decision: Decision) -> None:
        stops = int(decision.reasons) & int(STOP_REASONS)
        old_stops = int(previous.reasons) & int(STOP_REASONS) if previous else -1
        if stops == old_stops and (previous is None or previous.state == decision.state):
            return
        names = ', '.join(reason_names(decision.reasons)) or 'none'
        text = f'state {GateState(decision.state).name}: {names}'
        moving = (GateState.OK, GateState.LIMITED)
        if previous is not None and stops == old_stops and previous.state in moving \
                and decision.state in moving:
            # Acceleration limiting starts and ends every few ticks while a policy's chunk
            # plays out: log those flips at most every LIMIT_LOG_PERIOD (`~/state` has each).
            self.get_logger().info(text, throttle_duration_sec=LIMIT_LOG_PERIOD)
        elif decision.state in moving:
            self.get_logger().info(text)
        else:
            self.get_logger().warn(text)

    def _state_message(self, decision: Decision) -> SafetyState:
        msg = SafetyState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.mode = SafetyState.MODE_BASE if self._base else SafetyState.MODE_ARM
        msg.state = int(decision.state)
        msg.reasons = int(decision.reasons)
        msg.reason_names = reason_names(decision.reasons)
        msg.command_age = float(decision.command_age)
        msg.estop_reason = decision.estop_reason
        msg.interventions = int(self._gate.interventions)
        msg.cmd_vel_sent = self._last_sent_twist
        msg.arm_cmd_sent = self._last_sent_arm
        return msg

    def _publish_state(self, decision: Decision) -> None:
        self._state_pub.publish(self._state_message(decision))

    def _on_status_timer(self) -> None:
        decision = self._last_decision
        if decision is None:
            return
        self._publish_state(decision)
        self._diag_pub.publish(self._diagnostics(decision))

    def _diagnostics(self, decision: Decision) -> DiagnosticArray:
        status = DiagnosticStatus()
        status.name = f'{self.get_name()}: safety gate ({self._settings.mode})'
        status.hardware_id = self.get_fully_qualified_name()
        level = {GateState.OK: DiagnosticStatus.OK, GateState.LIMITED: DiagnosticStatus.OK,
                 GateState.STOPPED: DiagnosticStatus.WARN,
                 GateState.ESTOP: DiagnosticStatus.ERROR}[GateState(decision.state)]
        status.level = level
        names = reason_names(decision.reasons)
        status.message = GateState(decision.state).name + (
            ': ' + ', '.join(names) if names else '')
        values: List[Tuple[str, str]] = [
            ('state', GateState(decision.state).name),
            ('reasons', ','.join(names)),
            ('command_age', f'{decision.command_age:.3f}'),
            ('estop_reason', decision.estop_reason),
            ('interventions', str(self._gate.interventions)),
            ('published', str(self._published)),
            ('rate_hz', f'{self._settings.rate:g}'),
        ]
        if self._gate.late_refused:
            values += [('stale_refused', str(self._gate.late_refused)),
                       ('stale_refusal', self._gate.late_refusal)]
        if self._base_gate is not None and self._base_gate.scan_refusal:
            values.append(('scan_refused', self._base_gate.scan_refusal))
        if isinstance(decision, ArmDecision) and decision.ee_position is not None:
            values.append(('ee_position', ','.join(f'{v:.3f}' for v in decision.ee_position)))
        status.values = [KeyValue(key=k, value=v) for k, v in values]
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        array.status = [status]
        return array

    # --- parameters ---------------------------------------------------------------------------
    def _on_set_parameters(self, params: List[Any]) -> SetParametersResult:
        ours = {p.name: p.value for p in params if p.name in SPECS}
        if not ours:
            return SetParametersResult(successful=True)
        try:
            values = with_changes(self._values, ours)
            _, config = build(values)
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self._values = values
        self._gate.reconfigure(config)  # type: ignore[arg-type]
        if self._marker_pub is not None:
            self._publish_markers(config)
        self.get_logger().info('parameters changed: ' + ', '.join(
            f'{k}={v}' for k, v in sorted(ours.items())))
        return SetParametersResult(successful=True)

    def _publish_markers(self, config: Any) -> None:
        """Geofence (in `odom_frame`) and footprint / zones (in `base_frame`) as line strips."""
        colours = {'footprint': (0.9, 0.9, 0.9), 'slowdown_zone': (1.0, 0.7, 0.0),
                   'stop_zone': (1.0, 0.1, 0.1), 'geofence': (0.1, 0.6, 1.0)}
        frames = {'odom': 'odom', 'base': 'base_link'}  # REP-105, as the URDF and odometry
        array = MarkerArray()
        for i, outline in enumerate(base_outlines(config.zones, config.geofence)):
            m = Marker(ns=f'safety_gate/{outline.name}', id=i, type=Marker.LINE_STRIP,
                       action=Marker.ADD, frame_locked=outline.frame == 'base')
            m.header.frame_id = frames[outline.frame]
            m.pose.orientation.w = 1.0
            m.scale.x = 0.02
            m.color.r, m.color.g, m.color.b = colours[outline.name]
            m.color.a = 1.0
            m.points = [Point(x=float(x), y=float(y), z=0.02) for x, y in outline.points]
            array.markers.append(m)
        self._marker_pub.publish(array)

    # --- shutdown -----------------------------------------------------------------------------
    def destroy_node(self) -> None:
        """A last stop and an INACTIVE state before going away (best effort: drivers still
        need their own command timeout, a killed process sends nothing)."""
        try:
            if self._base:
                self._last_sent_twist = Twist()
                self._cmd_pub.publish(self._last_sent_twist)
            else:
                # Going away is a routine stop (hold); the hard stop stays the e-stop's.
                engaged = self._gate.supervisor.estop.engaged
                self._last_sent_arm = ArmCommand(
                    mode=ArmCommand.MODE_STOP if engaged else ArmCommand.MODE_HOLD)
                self._arm_pub.publish(self._last_sent_arm)
            decision = self._last_decision
            if decision is not None:
                msg = self._state_message(decision)
                msg.state = SafetyState.STATE_STOPPED
                msg.reasons = (int(decision.reasons) & ~int(LIMIT_REASONS)) | int(
                    Reason.INACTIVE)
                msg.reason_names = reason_names(msg.reasons)
                self._state_pub.publish(msg)
            # Destroying a reliable writer drops what it has not delivered yet: under load the
            # last zero and the INACTIVE state were lost. Wait (bounded) for the readers' acks.
            # (a list, not a generator: wait for both even if the first is not acknowledged)
            acked = all([pub.wait_for_all_acked(Duration(seconds=SHUTDOWN_ACK_TIMEOUT))
                         for pub in (self._cmd_pub if self._base else self._arm_pub,
                                     self._state_pub)])
            self.get_logger().info('shutting down: last stop published'
                                   + ('' if acked else ' (not acknowledged by every reader)'))
        except Exception:  # noqa: BLE001 - the context may already be shut down
            pass
        super().destroy_node()


def _factory() -> SafetyGateNode:
    node = SafetyGateNode()
    # rclpy's own SIGINT/SIGTERM handlers shut the context down before `destroy_node` runs,
    # so the last stop could not be published. Replace them: the first signal ends the spin,
    # `run_node` destroys the node while the context is still valid (last zero + INACTIVE
    # state, acknowledged), then shuts rclpy down; a second signal cannot cut that short.
    install_interrupt_handlers()
    return node


def main(args: Optional[List[str]] = None) -> int:
    return run_node(_factory, args)


if __name__ == '__main__':
    raise SystemExit(main())
