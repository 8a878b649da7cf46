"""`base_driver`: gated `cmd_vel` -> mecanum wheel commands; encoder feedback -> `odom`.

Backends: `serial` (the motor-controller board, protocol in docs/serial_protocol.md) and
`sim` (ideal in-process wheels, for running the stack without hardware or MuJoCo).
A fixed-rate control loop polls the backend, integrates odometry, and sends wheel speeds:
zero when `cmd_vel` is older than `cmd_timeout` (second line of defence behind the safety
gate), when the backend reports a fault, or while `cmd_vel` has a publisher other than the
configured gate (`cmd_vel_publisher`, checked through the ROS graph; the diagnostic names
it). Odometry is published only from real feedback, so a silent device makes `odom` stale
and the gate stops too.
"""

from __future__ import annotations

import math
import time
from typing import Any, List, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import JointState
from vla_common import topics
from vla_common.node_main import run_node
from vla_common.params import declare
from vla_common.publisher_guard import CLEARED, FOREIGN, GuardVerdict, PublisherGuard
from vla_common.qos import COMMAND_QOS, RELIABLE_QOS, SENSOR_QOS

from mobile_base.backends import BACKENDS, make_backend, WheelBackend
from mobile_base.core.driver import DriverConfig, DriverCore
from mobile_base.core.kinematics import MecanumGeometry, WHEEL_NAMES
from mobile_base.nodes.ros_io import odometry_msg, TfPublisher, twist_from_msg

WHEEL_JOINTS = [f'wheel_{name}_joint' for name in WHEEL_NAMES]


class BaseDriverNode(Node):
    """Kinematics, odometry and a wheel backend behind `cmd_vel`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('base_driver', **kwargs)
        d = self
        backend = declare(d, 'backend', 'sim', f'wheel backend: {" | ".join(BACKENDS)} '
                          '(sim = ideal in-process wheels, no MuJoCo)', read_only=True)
        geometry = MecanumGeometry(
            declare(d, 'wheel_radius', 0.05, 'wheel radius (m)', 0.01, 0.5, read_only=True),
            declare(d, 'half_wheelbase', 0.15, 'lx: wheel centre x offset (m)', 0.01, 2.0,
                    read_only=True),
            declare(d, 'half_track', 0.15, 'ly: wheel centre y offset (m)', 0.01, 2.0,
                    read_only=True))
        self.config = DriverConfig(
            geometry=geometry,
            max_wheel_speed=declare(d, 'max_wheel_speed', 12.0,
                                    'wheel speed limit (rad/s); all wheels are scaled together',
                                    0.1, 200.0, read_only=True),
            max_linear=declare(d, 'max_linear', 0.5, 'hard cap per linear axis (m/s)',
                               0.01, 5.0, read_only=True),
            max_angular=declare(d, 'max_angular', 1.0, 'hard cap on yaw rate (rad/s)',
                                0.01, 10.0, read_only=True),
            cmd_timeout=declare(d, 'cmd_timeout', 0.5,
                                's without cmd_vel after which the wheels are zeroed',
                                0.02, 5.0, read_only=True))
        self.core = DriverCore(self.config)
        rate = declare(d, 'control_rate', 50.0, 'control loop rate (Hz)', 1.0, 1000.0,
                       read_only=True)
        self.odom_frame = declare(d, 'odom_frame', 'odom', 'odometry frame', read_only=True)
        self.base_frame = declare(d, 'base_frame', 'base_link', 'robot frame', read_only=True)
        publish_tf = declare(d, 'publish_tf', True,
                             'broadcast odom -> base_link on /tf (needs tf2_ros)', read_only=True)
        serial_args = dict(
            port=declare(d, 'port', '/dev/ttyUSB0',
                         'serial backend: device (or pyserial URL) of the motor board',
                         read_only=True),
            baudrate=declare(d, 'baudrate', 115200, 'serial backend: baud rate', 1200, 4000000,
                             read_only=True),
            ticks_per_rev=declare(d, 'ticks_per_rev', 4096,
                                  'serial backend: encoder ticks per wheel revolution', 1,
                                  10 ** 7, read_only=True),
            device_timeout=declare(d, 'device_timeout', 0.3,
                                   'serial backend: s without a valid frame before the device '
                                   'counts as silent (wheels stopped)', 0.02, 10.0,
                                   read_only=True),
            max_consecutive_errors=declare(d, 'max_consecutive_errors', 3,
                                           'serial backend: corrupted frames in a row that '
                                           'stop the wheels', 1, 1000, read_only=True),
            fault_hold=declare(d, 'fault_hold', 1.0,
                               'serial backend: s a link/board fault keeps the wheels stopped '
                               'after the last bad frame or error report', 0.0, 60.0,
                               read_only=True))
        accel = declare(d, 'sim_max_wheel_accel', 0.0,
                        'sim backend: wheel acceleration limit (rad/s^2), 0 = instantaneous',
                        0.0, 10000.0, read_only=True)
        sim_args = dict(max_wheel_accel=accel if accel > 0.0 else math.inf)
        if backend not in BACKENDS:
            raise ValueError(f'unknown backend {backend!r} (choose from {", ".join(BACKENDS)})')
        kwargs_b = serial_args if backend == 'serial' else sim_args
        self.backend: WheelBackend = make_backend(backend, **kwargs_b)
        self.backend.open(time.monotonic())

        self.pub_odom = self.create_publisher(Odometry, topics.ODOM, SENSOR_QOS)
        self.pub_wheels = self.create_publisher(JointState, '~/wheel_command', SENSOR_QOS)
        self.pub_diag = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, RELIABLE_QOS)
        self.guard = PublisherGuard.on_commands(
            self, Twist, topics.CMD_VEL, self._on_cmd_vel, COMMAND_QOS, 'cmd_vel_publisher',
            'any other publisher stops the wheels')
        self.tf = TfPublisher(self, publish_tf)
        self._reason = ''
        self._fault = ''
        self._last_diag = 0.0
        self.create_timer(1.0 / rate, self._tick)
        self.get_logger().info(
            f'base_driver ready: backend {self.backend.name}, r={geometry.wheel_radius} '
            f'lx={geometry.half_wheelbase} ly={geometry.half_track}, cmd_timeout '
            f'{self.config.cmd_timeout} s, {rate:g} Hz; {self.guard.describe()}')

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _check_guard(self) -> GuardVerdict:
        verdict, event = self.guard.check()
        if event == FOREIGN:
            self.get_logger().error(f'cmd_vel refused, wheels stopped: {verdict.reason}')
            self._publish_diagnostics(self.backend.health(time.monotonic()), 'foreign_publisher')
        elif event == CLEARED:
            self.get_logger().info(f'cmd_vel: foreign publisher gone ({verdict.reason or "ok"})')
        return verdict

    def _on_cmd_vel(self, msg: Twist) -> None:
        if not self._check_guard().ok:
            return
        if not self.core.on_command(twist_from_msg(msg), self._now()):
            self.get_logger().warning('refused a non-finite cmd_vel: wheels zero',
                                      throttle_duration_sec=2.0)

    def _log_event(self, event) -> None:
        # One call site per severity: rclpy raises ValueError when a site changes severity.
        log = self.get_logger()
        noisy = event.kind in ('checksum', 'payload', 'length', 'unknown_type')
        if event.level == 'error':
            if noisy:
                log.error(event.message, throttle_duration_sec=1.0)
            else:
                log.error(event.message)
        elif event.level == 'warn':
            if noisy:
                log.warning(event.message, throttle_duration_sec=1.0)
            else:
                log.warning(event.message)
        elif noisy:
            log.info(event.message, throttle_duration_sec=1.0)
        else:
            log.info(event.message)

    def _tick(self) -> None:
        mono = time.monotonic()
        state = None
        for fb in self.backend.poll(mono):
            state = self.core.on_feedback(fb.stamp, fb.speeds, fb.positions) or state
        for event in self.backend.events():
            self._log_event(event)
        health = self.backend.health(mono)
        if health.fault != self._fault:
            if health.fault:
                self.get_logger().error(f'backend fault: {health.fault}')
            self._fault = health.fault
        guard_ok = not self._check_guard().rogue
        decision = self.core.decide(self._now(), health.ok and guard_ok)
        if decision.reason != self._reason:
            if decision.reason in ('cmd_timeout',):
                self.get_logger().warning(
                    f'no cmd_vel for {self.config.cmd_timeout} s: wheels zeroed')
            self._reason = decision.reason
        if health.ok and guard_ok:
            self.backend.send(decision.speeds, mono)
        else:
            self.backend.stop(mono)
        stamp = self.get_clock().now().to_msg()
        wheels = JointState()
        wheels.header.stamp = stamp
        wheels.name = list(WHEEL_JOINTS)
        wheels.velocity = [float(s) for s in decision.speeds]
        self.pub_wheels.publish(wheels)
        if state is not None:
            self.pub_odom.publish(odometry_msg(stamp, self.odom_frame, self.base_frame,
                                               state.pose, state.twist))
            self.tf.send(self.core.odometry.transform(), stamp)
        if mono - self._last_diag >= 1.0:
            self._last_diag = mono
            self._publish_diagnostics(health, decision.reason)

    def _publish_diagnostics(self, health: Any, reason: str) -> None:
        status = DiagnosticStatus(name=f'base_driver: {self.backend.name} backend',
                                  hardware_id=getattr(self.backend, 'port', self.backend.name))
        verdict = self.guard.verdict
        rogue = verdict is not None and verdict.rogue
        status.level = DiagnosticStatus.OK if health.ok and not rogue else DiagnosticStatus.ERROR
        status.message = health.fault or (f'cmd_vel refused: {verdict.reason}' if rogue
                                          else f'command: {reason}')
        status.values = [KeyValue(key=k, value=str(v)) for k, v in health.counters.items()]
        status.values.append(KeyValue(key='rejected_commands', value=str(self.core.rejected)))
        if verdict is not None:
            status.values.append(KeyValue(key='cmd_vel_publishers',
                                          value=','.join(verdict.publishers)))
            status.values.append(KeyValue(key='foreign_cmd_vel_publishers',
                                          value=','.join(verdict.foreign)))
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(msg)

    def destroy_node(self) -> None:
        try:
            self.backend.stop(time.monotonic())
            self.backend.close()
        finally:
            super().destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    return run_node(BaseDriverNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
