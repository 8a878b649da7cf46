"""Odometry integration (body twist -> pose in `odom`) and the odom -> base_link transform.

Each update integrates a constant body twist over `dt` exactly (the SE(2) exponential), so
straight lines, pure rotations and circular arcs are reproduced without discretisation
error; only the input twist being piecewise constant is an approximation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from vla_common.planar import quaternion_to_yaw, Twist2D

from mobile_base.core.geometry import Pose2D
from mobile_base.core.kinematics import forward_kinematics, MecanumGeometry


def integrate_twist(pose: Pose2D, twist: Twist2D, dt: float) -> Pose2D:
    """Pose after moving with a constant body `twist` for `dt` seconds from `pose`."""
    theta = twist.wz * dt
    if abs(theta) < 1e-9:
        dx, dy = twist.vx * dt, twist.vy * dt
    else:
        s, c = math.sin(theta), math.cos(theta)
        dx = (s * twist.vx - (1.0 - c) * twist.vy) / twist.wz
        dy = ((1.0 - c) * twist.vx + s * twist.vy) / twist.wz
    return pose.compose(Pose2D(dx, dy, theta))


def yaw_to_quaternion(yaw: float) -> Tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of a rotation about z (ROS message order)."""
    return (0.0, 0.0, math.sin(0.5 * yaw), math.cos(0.5 * yaw))


@dataclass(frozen=True)
class Transform:
    """A rigid transform as plain numbers: parent, child, translation, quaternion (x,y,z,w)."""

    parent: str
    child: str
    translation: Tuple[float, float, float]
    rotation: Tuple[float, float, float, float]


@dataclass(frozen=True)
class OdometryState:
    """Pose in `odom` and body twist in base_link, at time `stamp` (s)."""

    stamp: float
    pose: Pose2D
    twist: Twist2D
    distance: float  # m travelled since reset (path length)


class OdometryIntegrator:
    """Accumulate body twists (or wheel speeds) into a pose in the odom frame (REP-105)."""

    def __init__(self, geometry: Optional[MecanumGeometry] = None,
                 odom_frame: str = 'odom', base_frame: str = 'base_link') -> None:
        self.geometry = geometry or MecanumGeometry()
        self.odom_frame = odom_frame
        self.base_frame = base_frame
        self.reset()

    def reset(self, pose: Pose2D = Pose2D(), stamp: Optional[float] = None) -> None:
        self._pose = pose
        self._twist = Twist2D()
        self._stamp = stamp
        self._distance = 0.0

    @property
    def pose(self) -> Pose2D:
        return self._pose

    @property
    def twist(self) -> Twist2D:
        return self._twist

    def update_twist(self, twist: Twist2D, stamp: float) -> OdometryState:
        """Integrate `twist` (held since the previous update) up to `stamp` (s)."""
        if not twist.is_finite():
            raise ValueError(f'non-finite twist {twist}')
        if self._stamp is not None:
            dt = stamp - self._stamp
            if dt < 0.0:
                raise ValueError(f'time went backwards by {-dt:.6f} s')
            if dt > 0.0:
                new_pose = integrate_twist(self._pose, twist, dt)
                self._distance += math.hypot(twist.vx, twist.vy) * dt
                self._pose = new_pose
        self._stamp = stamp
        self._twist = twist
        return self.state()

    def update_wheels(self, wheel_speeds: Sequence[float], stamp: float) -> OdometryState:
        """Integrate measured wheel speeds (rad/s, FL, FR, RL, RR) up to `stamp`."""
        return self.update_twist(forward_kinematics(wheel_speeds, self.geometry), stamp)

    def state(self) -> OdometryState:
        return OdometryState(self._stamp if self._stamp is not None else 0.0, self._pose,
                             self._twist, self._distance)

    def transform(self) -> Transform:
        """The odom -> base_link transform of the current pose."""
        return pose_transform(self._pose, self.odom_frame, self.base_frame)


def pose_transform(pose: Pose2D, parent: str, child: str) -> Transform:
    """A planar pose as a 3-D transform parent -> child."""
    return Transform(parent, child, (pose.x, pose.y, 0.0), yaw_to_quaternion(pose.yaw))


def pose_covariance(linear_var: float, angular_var: float) -> Tuple[float, ...]:
    """Row-major 6x6 covariance (x, y, z, roll, pitch, yaw) for a planar estimate.

    z, roll and pitch are not estimated: a large variance says so to fusion filters.
    """
    big = 1e6
    diag = (linear_var, linear_var, big, big, big, angular_var)
    return tuple(diag[i] if i == j else 0.0 for i in range(6) for j in range(6))


__all__ = ['integrate_twist', 'yaw_to_quaternion', 'quaternion_to_yaw', 'Transform',
           'OdometryState', 'OdometryIntegrator', 'pose_transform', 'pose_covariance']
