"""realman_bridge: the gated `arm_cmd` -> RealMan rm_driver topics (thin node over core.realman).

rm_ros_interfaces (from ros2_rm_robot) is imported when the node starts; where it is missing the
node exits with an actionable error. `arm_cmd` is accepted only while the configured gate is its
sole publisher (`arm_cmd_publisher`, `vla_common.publisher_guard`): a command that arrives while
another node publishes `arm_cmd` is not forwarded, the driver stop is sent (once) and
/diagnostics names the publisher.
"""

from __future__ import annotations

from typing import Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Pose as PoseMsg
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool
from vla_common.node_main import run_node
from vla_common import topics
from vla_common.params import declare
from vla_common.publisher_guard import CLEARED, FOREIGN, GuardVerdict, PublisherGuard
from vla_common.qos import COMMAND_QOS, RELIABLE_QOS
from vla_msgs.msg import ArmCommand

from vla_bringup.core.realman import ARM_DOF, map_command, MODE_STOP, Pose, StopLatch


def _import_rm_interfaces():
    try:
        from rm_ros_interfaces.msg import Cartepos, Jointpos
    except ImportError as exc:
        raise RuntimeError(
            'rm_ros_interfaces is not installed: build RealMan ros2_rm_robot '
            '(rm_ros_interfaces, rm_driver) in your workspace and source it') from exc
    return Jointpos, Cartepos


class RealmanBridge(Node):
    """Forward gated arm commands to the RealMan driver; stop it once per fault."""

    def __init__(self) -> None:
        super().__init__('realman_bridge')
        self.jointpos_cls, self.cartepos_cls = _import_rm_interfaces()
        self.arm_model = declare(self, 'arm_model', 'RM75', 'RealMan arm: RM65, RM75, GEN72',
                                 read_only=True)
        if self.arm_model not in ARM_DOF:
            raise ValueError(f'arm_model must be one of {sorted(ARM_DOF)}')
        self.follow = declare(self, 'follow', False,
                              'Jointpos/Cartepos follow flag (true: high-following mode)')
        self.expand = declare(self, 'expand', 0.0, 'Jointpos expand (lift/extra joint), rad or m')
        driver_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.joint_pub = self.create_publisher(
            self.jointpos_cls, declare(self, 'movej_topic', '/rm_driver/movej_canfd_cmd',
                                       'joint pass-through topic', read_only=True), driver_qos)
        self.pose_pub = self.create_publisher(
            self.cartepos_cls, declare(self, 'movep_topic', '/rm_driver/movep_canfd_cmd',
                                       'Cartesian pass-through topic', read_only=True),
            driver_qos)
        self.stop_pub = self.create_publisher(
            Bool, declare(self, 'stop_topic', '/rm_driver/move_stop_cmd',
                          'driver stop topic (std_msgs/Bool true)', read_only=True), driver_qos)
        self.pose: Optional[Pose] = None
        self.create_subscription(
            PoseMsg, declare(self, 'pose_topic', '/rm_driver/udp_arm_position',
                             'end-effector pose feedback', read_only=True),
            self._on_pose, QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.latch = StopLatch()
        sub = self.create_subscription(ArmCommand, topics.ARM_CMD, self._on_command,
                                       COMMAND_QOS)
        self.guard = PublisherGuard(self, sub, declare(
            self, 'arm_cmd_publisher', topics.SAFETY_NODE,
            'the only node allowed to publish arm_cmd (the safety gate; relative names are in '
            'this node\'s namespace); a command while another node publishes it is not '
            'forwarded and the driver is stopped. Empty disables the check', read_only=True))
        self.diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS,
                                              RELIABLE_QOS)
        self.get_logger().info(f'bridging arm_cmd to the RealMan {self.arm_model} driver; '
                               f'{self.guard.describe()}')

    def _on_pose(self, msg: PoseMsg) -> None:
        p, o = msg.position, msg.orientation
        self.pose = Pose((p.x, p.y, p.z), (o.x, o.y, o.z, o.w))

    def _check_guard(self) -> GuardVerdict:
        verdict, event = self.guard.check()
        if event == FOREIGN:
            self.get_logger().error(f'arm_cmd refused, driver stopped: {verdict.reason}')
        elif event == CLEARED:
            self.get_logger().info('arm_cmd: foreign publisher gone')
        if event:
            status = DiagnosticStatus(
                name='realman_bridge: arm_cmd publishers', hardware_id=self.arm_model,
                level=DiagnosticStatus.ERROR if verdict.rogue else DiagnosticStatus.OK,
                message=f'arm_cmd refused: {verdict.reason}' if verdict.rogue else 'ok',
                values=[KeyValue(key='arm_cmd_publishers', value=','.join(verdict.publishers)),
                        KeyValue(key='foreign_arm_cmd_publishers',
                                 value=','.join(verdict.foreign))])
            msg = DiagnosticArray(status=[status])
            msg.header.stamp = self.get_clock().now().to_msg()
            self.diag_pub.publish(msg)
        return verdict

    def _on_command(self, msg: ArmCommand) -> None:
        if self._check_guard().ok:
            out = map_command(msg.mode, list(msg.joint_positions), list(msg.ee_delta),
                              self.arm_model, self.pose)
        else:   # not from the gate alone: never forwarded; the driver is stopped instead
            out = map_command(MODE_STOP, [], [], self.arm_model, self.pose)
        if self.latch.on_output(out):
            self.stop_pub.publish(Bool(data=True))
            self.get_logger().warn('fault from the safety gate: sent the driver stop')
        elif out.kind == 'joint':
            cmd = self.jointpos_cls()
            cmd.joint = list(out.joints)
            cmd.follow = bool(self.follow)
            cmd.expand = float(self.expand)
            cmd.dof = out.dof
            self.joint_pub.publish(cmd)
        elif out.kind == 'pose':
            cmd = self.cartepos_cls()
            cmd.pose.position.x, cmd.pose.position.y, cmd.pose.position.z = out.pose.position
            (cmd.pose.orientation.x, cmd.pose.orientation.y, cmd.pose.orientation.z,
             cmd.pose.orientation.w) = out.pose.orientation
            cmd.follow = bool(self.follow)
            self.pose_pub.publish(cmd)
        elif out.error:
            self.get_logger().error(f'command not forwarded: {out.error}',
                                    throttle_duration_sec=1.0)


def main(args=None) -> int:
    return run_node(RealmanBridge, args)
