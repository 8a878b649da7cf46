"""Planar geometry shared by the kinematics, the simulator, the expert and the episode monitor.

Plain floats and tuples only (no numpy needed on the hot paths, no ROS types). Angles in rad,
lengths in m, REP-103 axes (x forward, y left, yaw counter-clockwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence

from vla_common.planar import Point, segments_cross


def wrap_angle(angle: float) -> float:
    """Wrap an angle to [-pi, pi)."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


@dataclass(frozen=True)
class Pose2D:
    """A planar pose: position (m) and heading (rad)."""

    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0

    def to_world(self, bx: float, by: float) -> Point:
        """Map a point given in this pose's frame to the parent frame."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return (self.x + c * bx - s * by, self.y + s * bx + c * by)

    def to_local(self, wx: float, wy: float) -> Point:
        """Map a point given in the parent frame to this pose's frame."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        dx, dy = wx - self.x, wy - self.y
        return (c * dx + s * dy, -s * dx + c * dy)

    def compose(self, other: 'Pose2D') -> 'Pose2D':
        """self * other: `other` expressed in this pose's frame, returned in the parent frame."""
        x, y = self.to_world(other.x, other.y)
        return Pose2D(x, y, wrap_angle(self.yaw + other.yaw))

    def inverse(self) -> 'Pose2D':
        """The parent frame expressed in this pose's frame."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return Pose2D(-c * self.x - s * self.y, s * self.x - c * self.y, wrap_angle(-self.yaw))

    def distance_to(self, x: float, y: float) -> float:
        return math.hypot(x - self.x, y - self.y)


def rotate(vx: float, vy: float, angle: float) -> Point:
    """Rotate a vector counter-clockwise by `angle`."""
    c, s = math.cos(angle), math.sin(angle)
    return (c * vx - s * vy, s * vx + c * vy)


def rectangle_corners(cx: float, cy: float, yaw: float, length: float,
                      width: float) -> List[Point]:
    """Corners (counter-clockwise) of a rectangle `length` along its x axis, `width` along y."""
    hl, hw = 0.5 * length, 0.5 * width
    pose = Pose2D(cx, cy, yaw)
    return [pose.to_world(px, py) for px, py in ((hl, hw), (-hl, hw), (-hl, -hw), (hl, -hw))]


def _point_segment_distance(p: Point, a: Point, b: Point) -> float:
    abx, aby = b[0] - a[0], b[1] - a[1]
    apx, apy = p[0] - a[0], p[1] - a[1]
    denom = abx * abx + aby * aby
    t = 0.0 if denom == 0.0 else max(0.0, min(1.0, (apx * abx + apy * aby) / denom))
    return math.hypot(apx - t * abx, apy - t * aby)


def _point_in_convex(p: Point, poly: Sequence[Point]) -> bool:
    """True if p is inside (or on) a counter-clockwise convex polygon."""
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        if (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) < -1e-12:
            return False
    return True


def convex_distance(poly_a: Sequence[Point], poly_b: Sequence[Point]) -> float:
    """Smallest distance between two convex counter-clockwise polygons (0 when they overlap)."""
    if any(_point_in_convex(p, poly_b) for p in poly_a) or \
            any(_point_in_convex(p, poly_a) for p in poly_b):
        return 0.0
    na, nb = len(poly_a), len(poly_b)
    for i in range(na):
        for j in range(nb):
            if segments_cross(poly_a[i], poly_a[(i + 1) % na],
                              poly_b[j], poly_b[(j + 1) % nb]):
                return 0.0
    best = math.inf
    for i in range(na):
        a0, a1 = poly_a[i], poly_a[(i + 1) % na]
        for p in poly_b:
            best = min(best, _point_segment_distance(p, a0, a1))
    for j in range(nb):
        b0, b1 = poly_b[j], poly_b[(j + 1) % nb]
        for p in poly_a:
            best = min(best, _point_segment_distance(p, b0, b1))
    return best
