"""Geofence for the base: a simple polygon in the odometry frame with short-horizon clipping.

The base centre is predicted `horizon` seconds ahead along the commanded planar velocity
(expressed in the odometry frame). If the prediction comes closer to the boundary than
`margin` (inside), the body-frame components (vx, vy) that point along the outward normal
of the offending edge are reduced so the prediction stops at the margin (zeroed inside the
margin band); the others are kept, so sliding along the fence and motion back inside remain
possible. A command that still violates after a few passes (corners,
narrow notches) loses its planar part. Rotation is never clipped: the margin should cover
the footprint's circumradius.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from vla_common.planar import Point, segments_cross, Twist2D

from .spec import declared_in_table


class GeofenceError(ValueError):
    """A polygon that cannot serve as a geofence."""


class Polygon:
    """A simple (non self-intersecting) polygon, stored counter-clockwise."""

    def __init__(self, vertices: Sequence[Point]) -> None:
        pts = [(float(x), float(y)) for x, y in vertices]
        if len(pts) < 3:
            raise GeofenceError(f'a polygon needs at least 3 vertices, got {len(pts)}')
        if not all(math.isfinite(c) for p in pts for c in p):
            raise GeofenceError('polygon vertices must be finite')
        area2 = sum(pts[i][0] * pts[(i + 1) % len(pts)][1] - pts[(i + 1) % len(pts)][0]
                    * pts[i][1] for i in range(len(pts)))
        if abs(area2) < 1e-9:
            raise GeofenceError('polygon has zero area')
        if area2 < 0:
            pts.reverse()
        n = len(pts)
        for i in range(n):
            for j in range(i + 1, n):
                if j in (i, (i + 1) % n) or i == (j + 1) % n:
                    continue
                if segments_cross(pts[i], pts[(i + 1) % n], pts[j], pts[(j + 1) % n]):
                    raise GeofenceError('polygon edges intersect (not a simple polygon)')
        for i in range(n):
            a, b = pts[i], pts[(i + 1) % n]
            if math.hypot(b[0] - a[0], b[1] - a[1]) < 1e-9:
                raise GeofenceError('polygon has a repeated vertex')
        self.vertices: List[Point] = pts

    @classmethod
    def from_flat(cls, flat: Sequence[float]) -> 'Polygon':
        """[x0, y0, x1, y1, ...] (the ROS parameter form) -> Polygon."""
        if len(flat) % 2:
            raise GeofenceError(f'flat polygon needs an even number of values, got {len(flat)}')
        return cls([(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)])

    def contains(self, p: Point) -> bool:
        """Point-in-polygon (even-odd rule); points on the boundary may go either way."""
        x, y = p
        inside = False
        n = len(self.vertices)
        for i in range(n):
            x1, y1 = self.vertices[i]
            x2, y2 = self.vertices[(i + 1) % n]
            if (y1 > y) != (y2 > y):
                xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
                if x < xc:
                    inside = not inside
        return inside

    def nearest_edge(self, p: Point) -> Tuple[float, int]:
        """(distance to the boundary, index of the nearest edge)."""
        best, best_i = math.inf, 0
        n = len(self.vertices)
        for i in range(n):
            ax, ay = self.vertices[i]
            bx, by = self.vertices[(i + 1) % n]
            ex, ey = bx - ax, by - ay
            t = ((p[0] - ax) * ex + (p[1] - ay) * ey) / (ex * ex + ey * ey)
            t = max(0.0, min(1.0, t))
            d = math.hypot(p[0] - (ax + t * ex), p[1] - (ay + t * ey))
            if d < best:
                best, best_i = d, i
        return best, best_i

    def signed_distance(self, p: Point) -> float:
        """Distance to the boundary: positive inside, negative outside."""
        d, _ = self.nearest_edge(p)
        return d if self.contains(p) else -d

    def outward_normal(self, edge: int) -> Point:
        """Unit normal of edge `edge` pointing out of the (counter-clockwise) polygon."""
        ax, ay = self.vertices[edge]
        bx, by = self.vertices[(edge + 1) % len(self.vertices)]
        ex, ey = bx - ax, by - ay
        norm = math.hypot(ex, ey)
        return (ey / norm, -ex / norm)


@dataclass(frozen=True)
@declared_in_table
class GeofenceConfig:
    """`polygon` flat [x0, y0, ...] in the odometry frame (m); horizon (s); margin (m)."""

    polygon: Tuple[float, ...]
    horizon: float
    margin: float


class Geofence:
    """Clip planar motion that would leave the polygon within the horizon."""

    SAMPLES = 5        # points checked along the predicted segment (non-convex fences)
    PROJECTIONS = 4    # clipping passes tried before giving up on the planar part
    TOLERANCE = 1e-6   # m

    def __init__(self, config: GeofenceConfig) -> None:
        self.config = config
        self.polygon = Polygon.from_flat(config.polygon)

    def _worst(self, p: Point, v: Point) -> Tuple[float, Point]:
        h = self.config.horizon
        worst, worst_pt = math.inf, p
        for k in range(1, self.SAMPLES + 1):
            s = h * k / self.SAMPLES
            q = (p[0] + v[0] * s, p[1] + v[1] * s)
            d = self.polygon.signed_distance(q)
            if d < worst:
                worst, worst_pt = d, q
        return worst, worst_pt

    def clip(self, x: float, y: float, yaw: float, cmd: Twist2D) -> Tuple[Twist2D, bool]:
        """Return (command, whether it was clipped) for the base at pose (x, y, yaw).

        The body-frame components (vx, vy) that push towards the outside of the offending edge
        are scaled down just enough that the predicted centre stops at the margin (so the base
        slows as it approaches and settles at the margin instead of oscillating); inside the
        margin band they are zeroed. Components are only ever reduced, never re-mixed or
        sign-flipped, so the per-axis limits and acceleration ramps applied before still hold.
        """
        vx, vy = cmd.vx, cmd.vy
        if vx == 0.0 and vy == 0.0:
            return cmd, False
        c, s = math.cos(yaw), math.sin(yaw)
        p = (x, y)
        h = self.config.horizon
        margin = self.config.margin
        # Never end up closer to (or further beyond) the boundary than now, nor inside the
        # margin band: this is what lets a base that is outside drive back in.
        floor = min(margin, self.polygon.signed_distance(p))
        clipped = False
        for _ in range(self.PROJECTIONS):
            v = (c * vx - s * vy, s * vx + c * vy)
            worst, worst_pt = self._worst(p, v)
            if worst >= floor - self.TOLERANCE:
                break
            _, edge = self.polygon.nearest_edge(worst_pt)
            nx, ny = self.polygon.outward_normal(edge)
            ax, ay = self.polygon.vertices[edge]
            inside = (ax - p[0]) * nx + (ay - p[1]) * ny      # distance to the edge's line
            allowed = max(0.0, inside - margin) / h if h > 0.0 else 0.0
            # Outward normal in the body frame; split the outward speed by axis.
            bx, by = c * nx + s * ny, -s * nx + c * ny
            tx, ty = vx * bx, vy * by
            tx = 0.0 if abs(tx) < 1e-12 else tx   # an axis along the fence (rounding of cos)
            ty = 0.0 if abs(ty) < 1e-12 else ty
            pushing = max(tx, 0.0) + max(ty, 0.0)
            holding = min(tx, 0.0) + min(ty, 0.0)
            if pushing <= 1e-12:
                vx, vy = 0.0, 0.0   # no axis to blame (corner, notch): stop planar motion
                clipped = True
                break
            f = max(0.0, min(1.0, (allowed - holding) / pushing)) * (1.0 - 1e-9)
            vx = vx * f if tx > 0.0 else vx
            vy = vy * f if ty > 0.0 else vy
            clipped = True
        else:
            v = (c * vx - s * vy, s * vx + c * vy)
            if self._worst(p, v)[0] < floor - self.TOLERANCE:
                vx, vy, clipped = 0.0, 0.0, True
        if not clipped:
            return cmd, False
        return Twist2D(vx, vy, cmd.wz), True
