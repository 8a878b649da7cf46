"""Message conversions and TF broadcasting shared by the mobile_base nodes."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from geometry_msgs.msg import TransformStamped, Twist
from nav_msgs.msg import Odometry
from vla_common.planar import Twist2D

from mobile_base.core.geometry import Pose2D
from mobile_base.core.odometry import pose_covariance, Transform, yaw_to_quaternion

#: Diagonal variances of the published odometry (x/y in m^2, yaw in rad^2).
ODOM_POSE_COVARIANCE = pose_covariance(1e-3, 3e-3)
ODOM_TWIST_COVARIANCE = pose_covariance(1e-4, 4e-4)
GROUND_TRUTH_COVARIANCE = pose_covariance(1e-9, 1e-9)


def twist_from_msg(msg: Twist) -> Twist2D:
    """The planar part of a geometry_msgs/Twist (z, roll and pitch rates are ignored)."""
    return Twist2D(float(msg.linear.x), float(msg.linear.y), float(msg.angular.z))


def twist_to_msg(twist: Twist2D) -> Twist:
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.angular.z = twist.vx, twist.vy, twist.wz
    return msg


def odometry_msg(stamp: Any, frame_id: str, child_frame_id: str, pose: Pose2D,
                 twist: Twist2D, pose_cov: Sequence[float] = ODOM_POSE_COVARIANCE,
                 twist_cov: Sequence[float] = ODOM_TWIST_COVARIANCE) -> Odometry:
    """nav_msgs/Odometry: pose in `frame_id`, twist in `child_frame_id` (REP-105)."""
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.child_frame_id = child_frame_id
    msg.pose.pose.position.x, msg.pose.pose.position.y = pose.x, pose.y
    qx, qy, qz, qw = yaw_to_quaternion(pose.yaw)
    o = msg.pose.pose.orientation
    o.x, o.y, o.z, o.w = qx, qy, qz, qw
    msg.pose.covariance = [float(v) for v in pose_cov]
    msg.twist.twist.linear.x, msg.twist.twist.linear.y = twist.vx, twist.vy
    msg.twist.twist.angular.z = twist.wz
    msg.twist.covariance = [float(v) for v in twist_cov]
    return msg


def transform_msg(transform: Transform, stamp: Any) -> TransformStamped:
    msg = TransformStamped()
    msg.header.stamp = stamp
    msg.header.frame_id = transform.parent
    msg.child_frame_id = transform.child
    t = msg.transform.translation
    t.x, t.y, t.z = transform.translation
    r = msg.transform.rotation
    r.x, r.y, r.z, r.w = transform.rotation
    return msg


class TfPublisher:
    """Broadcast transforms with tf2_ros where it exists (the target); say so where it does not.

    The transform itself is always computed (core.odometry), so only the broadcasting
    depends on tf2_ros, which has no wheels on the development machine.
    """

    def __init__(self, node: Any, enabled: bool = True) -> None:
        self._broadcaster: Optional[Any] = None
        if not enabled:
            return
        try:
            from tf2_ros import TransformBroadcaster
        except ImportError:
            node.get_logger().info('tf2_ros is not installed: the odom -> base_link transform '
                                   'is computed but not broadcast on /tf')
            return
        self._broadcaster = TransformBroadcaster(node)

    @property
    def active(self) -> bool:
        return self._broadcaster is not None

    def send(self, transform: Transform, stamp: Any) -> None:
        if self._broadcaster is not None:
            self._broadcaster.sendTransform(transform_msg(transform, stamp))
