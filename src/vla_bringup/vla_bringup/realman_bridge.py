"""realman_bridge: the gated `arm_cmd` -> RealMan rm_driver topics (thin node over core.realman).

rm_ros_interfaces (from ros2_rm_robot) is imported when the node starts; where it is missing the
node exits with an actionable error.
"""

from __future__ import annotations

from typing import Optional

from geometry_msgs.msg import Pose as PoseMsg
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool
from vla_common.node_main import run_node
from vla_common.params import declare
from vla_common.qos import COMMAND_QOS
from vla_msgs.msg import ArmCommand

from vla_bringup.core.realman import ARM_DOF, map_command, Pose, StopLatch


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
        self.create_subscription(ArmCommand, 'arm_cmd', self._on_command, COMMAND_QOS)
        self.get_logger().info(f'bridging arm_cmd to the RealMan {self.arm_model} driver')

    def _on_pose(self, msg: PoseMsg) -> None:
        p, o = msg.position, msg.orientation
        self.pose = Pose((p.x, p.y, p.z), (o.x, o.y, o.z, o.w))

    def _on_command(self, msg: ArmCommand) -> None:
        out = map_command(msg.mode, list(msg.joint_positions), list(msg.ee_delta),
                          self.arm_model, self.pose)
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
