"""realman_bridge: the gated `arm_cmd` -> RealMan rm_driver topics (thin node over core.realman).

rm_ros_interfaces (from ros2_rm_robot) is imported when the node starts; where it is missing the
node exits with an actionable error. An `arm_model` outside the shared table
(vla_common.arm_models: RM65, RM75, GEN72) is refused at start-up. `arm_cmd` is accepted only
while the configured gate is its sole publisher (`arm_cmd_publisher`,
`vla_common.publisher_guard`): a command that arrives while another node publishes `arm_cmd`
is not forwarded (streaming stops, so the pass-through controller holds its last point; only
the gate's e-stop sends the driver's hard stop) and /diagnostics names the publisher.
"""

from __future__ import annotations

from typing import Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Pose as PoseMsg
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool
from vla_common import topics
from vla_common.arm_models import arm_model, ARM_MODELS
from vla_common.node_main import run_node
from vla_common.params import declare
from vla_common.publisher_guard import CLEARED, FOREIGN, GuardVerdict, PublisherGuard
from vla_common.qos import COMMAND_QOS, RELIABLE_QOS
from vla_msgs.msg import ArmCommand

from vla_bringup.core.realman import GripperLatch, map_command, MODE_HOLD, Pose, StopLatch


def _import_rm_interfaces():
    try:
        from rm_ros_interfaces.msg import Cartepos, Gripperset, Jointpos
    except ImportError as exc:
        raise RuntimeError(
            'rm_ros_interfaces is not installed: build RealMan ros2_rm_robot '
            '(rm_ros_interfaces, rm_driver) in your workspace and source it') from exc
    return Jointpos, Cartepos, Gripperset


class RealmanBridge(Node):
    """Forward gated arm commands to the RealMan driver; its hard stop only on the e-stop."""

    def __init__(self) -> None:
        super().__init__('realman_bridge')
        self.jointpos_cls, self.cartepos_cls, self.gripperset_cls = _import_rm_interfaces()
        self.arm_model = declare(self, 'arm_model', 'RM75',
                                 f'RealMan arm: {", ".join(sorted(ARM_MODELS))}',
                                 read_only=True)
        self.dof = arm_model(self.arm_model).dof    # UnknownArmModel: refused at start-up
        self.follow = declare(self, 'follow', False,
                              'Jointpos/Cartepos follow flag (true: high-following mode)')
        self.expand = declare(self, 'expand', 0.0, 'Jointpos expand (lift/extra joint), rad or m')
        self.gripper_deadband = declare(
            self, 'gripper_deadband', 0.05, 'a gripper command is forwarded when it differs '
            'from the last one sent by this much (0..1 scale)', 0.0, 1.0, read_only=True)
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
                          'driver stop topic (std_msgs/Bool true), e-stop only', read_only=True),
            driver_qos)
        self.gripper_pub = self.create_publisher(
            self.gripperset_cls, declare(self, 'gripper_topic',
                                         '/rm_driver/set_gripper_position_cmd',
                                         'gripper position topic (Gripperset)', read_only=True),
            driver_qos)
        self.pose: Optional[Pose] = None
        self.create_subscription(
            PoseMsg, declare(self, 'pose_topic', '/rm_driver/udp_arm_position',
                             'end-effector pose feedback', read_only=True),
            self._on_pose, QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.stop_latch = StopLatch()
        self.gripper_latch = GripperLatch(self.gripper_deadband)
        self._holding = False
        self.guard = PublisherGuard.on_commands(
            self, ArmCommand, topics.ARM_CMD, self._on_command, COMMAND_QOS, 'arm_cmd_publisher',
            'a command while another node publishes it is not forwarded')
        self.diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS,
                                              RELIABLE_QOS)
        self.get_logger().info(f'bridging arm_cmd to the RealMan {self.arm_model} driver '
                               f'({self.dof} joints); {self.guard.describe()}')

    def _on_pose(self, msg: PoseMsg) -> None:
        p, o = msg.position, msg.orientation
        self.pose = Pose((p.x, p.y, p.z), (o.x, o.y, o.z, o.w))

    def _check_guard(self) -> GuardVerdict:
        verdict, event = self.guard.check()
        if event == FOREIGN:
            self.get_logger().error(f'arm_cmd refused, nothing forwarded: {verdict.reason}')
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
        accepted = self._check_guard().ok
        if not accepted:
            # Not from the gate alone: never forwarded. Streaming stops, the controller holds
            # its last point; the driver's hard stop stays the e-stop's (the gate's MODE_STOP).
            out = map_command(MODE_HOLD, [], [], self.arm_model, self.pose)
        else:
            out = map_command(msg.mode, list(msg.joint_positions), list(msg.ee_delta),
                              self.arm_model, self.pose)
        if self.stop_latch.on_output(out):
            self.stop_pub.publish(Bool(data=True))
            self.get_logger().warning('e-stop from the safety gate: sent the driver\'s hard '
                                      'stop (move_stop_cmd)')
        elif out.kind == 'hold':
            if not self._holding:
                self.get_logger().info('hold from the safety gate: streaming stopped, the '
                                       'controller keeps the last point')
            self._holding = True
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
        if out.kind in ('joint', 'pose'):
            self._holding = False
        if accepted and out.kind != 'none':
            position = self.gripper_latch.on_command(msg.mode, msg.gripper)
            if position is not None:
                self.gripper_pub.publish(self.gripperset_cls(position=position, block=False))


def main(args=None) -> int:
    return run_node(RealmanBridge, args)
