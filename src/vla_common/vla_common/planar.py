"""Planar types shared by the base's driver and simulator and the safety gate (pure).

REP-103 axes (x forward, y left, yaw counter-clockwise); m, m/s, rad/s. `mobile_base` and
`vla_safety` are siblings that both import `vla_common`, so the one definition lives here.
No rclpy, no message types, no numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

#: A point (x, y) in m.
Point = Tuple[float, float]


@dataclass(frozen=True)
class Twist2D:
    """Planar body twist in base_link: vx, vy in m/s, wz in rad/s."""

    vx: float = 0.0
    vy: float = 0.0
    wz: float = 0.0

    def is_finite(self) -> bool:
        return math.isfinite(self.vx) and math.isfinite(self.vy) and math.isfinite(self.wz)

    def is_zero(self) -> bool:
        return self.vx == 0.0 and self.vy == 0.0 and self.wz == 0.0

    def close_to(self, other: 'Twist2D', tol: float = 1e-9) -> bool:
        return (abs(self.vx - other.vx) <= tol and abs(self.vy - other.vy) <= tol
                and abs(self.wz - other.wz) <= tol)

    def scaled(self, factor: float) -> 'Twist2D':
        return Twist2D(self.vx * factor, self.vy * factor, self.wz * factor)

    def as_tuple(self) -> Tuple[float, float, float]:
        return (self.vx, self.vy, self.wz)


ZERO_TWIST = Twist2D()


def quaternion_to_yaw(x: float, y: float, z: float, w: float) -> float:
    """Yaw (rad, rotation about z) of a quaternion in ROS order (x, y, z, w)."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def segments_cross(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """True when segments p1-p2 and q1-q2 cross at a single interior point.

    Touching (an end on the other segment) and collinear overlap do not count: callers test
    containment separately (polygon distance) or reject those cases on their own (a simple
    polygon's adjacent edges share an end by construction).
    """
    def orient(a: Point, b: Point, c: Point) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return d1 * d2 < 0.0 and d3 * d4 < 0.0
