"""Obstacle stop / slowdown zones from a planar laser scan.

The footprint is a rectangle centred on `base_link` (length along x, width along y). A scan
point is *ahead* when the footprint point nearest to it moves towards it under the commanded
rigid-body motion (v + w x q), so the zones follow the direction of motion, including pure
rotation (the corners sweep) and sideways motion; points beside or behind the motion are
ignored. Points inside the footprint count as ahead of any motion.

- stop zone: ahead and within `stop_distance` of the footprint (the collision threshold);
- slowdown zone: ahead and within `slowdown_distance`: the command is scaled by
  `slowdown_ratio`.

Readings follow REP-117: NaN (no measurement) and +Inf / values above range_max (nothing
within range) carry no obstacle; -Inf and finite values below range_min mean "too close to
measure": an obstacle at range_min along that beam (fail closed: the closest place the
sensor could not see past).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
from vla_common.planar import Twist2D

from .spec import declared_in_table


class ScanError(ValueError):
    """A scan that cannot be interpreted (no valid geometry)."""


@dataclass(frozen=True)
@declared_in_table
class ScanZoneConfig:
    """Footprint (m), zone distances (m) from the footprint, and the laser's pose in base_link."""

    footprint_length: float
    footprint_width: float
    stop_distance: float
    slowdown_distance: float
    slowdown_ratio: float
    laser_x: float
    laser_y: float
    laser_yaw: float
    frame_id: str


def scan_to_points(angle_min: float, angle_increment: float, range_min: float,
                   range_max: float, ranges: Sequence[float], laser_x: float = 0.0,
                   laser_y: float = 0.0, laser_yaw: float = 0.0) -> np.ndarray:
    """The obstacles of a scan as an (N, 2) array of points in base_link (REP-117 readings:
    see the module docstring; too-close readings become points at range_min).

    Raises ScanError when the scan geometry itself is unusable (non-finite angles, empty).
    """
    if not (math.isfinite(angle_min) and math.isfinite(angle_increment)
            and math.isfinite(range_min) and math.isfinite(range_max)):
        raise ScanError('scan angles/limits are not finite')
    r = np.asarray(ranges, dtype=np.float64).reshape(-1)
    if r.size == 0:
        raise ScanError('scan has no ranges')
    if angle_increment == 0.0 and r.size > 1:
        raise ScanError('scan angle_increment is zero')
    with np.errstate(over='ignore', invalid='ignore'):
        angles = angle_min + angle_increment * np.arange(r.size, dtype=np.float64) + laser_yaw
    if not np.all(np.isfinite(angles)):
        raise ScanError('scan beam angles overflow (angle_increment too large)')
    with np.errstate(invalid='ignore'):
        too_close = (r == -np.inf) | (np.isfinite(r) & (r < range_min))
        valid = (np.isfinite(r) & (r >= range_min) & (r <= range_max)) | too_close
    r = np.where(too_close, max(range_min, 0.0), r)
    r, angles = r[valid], angles[valid]
    return np.stack([laser_x + r * np.cos(angles), laser_y + r * np.sin(angles)], axis=1)


@dataclass(frozen=True)
class ZoneResult:
    """Outcome of one zone check: stop, slow down, and the nearest point ahead (m or inf)."""

    stop: bool
    slowdown: bool
    nearest_ahead: float


class ScanZones:
    """Evaluate stop/slowdown zones for a command against the latest scan points."""

    def __init__(self, config: ScanZoneConfig) -> None:
        self.config = config
        self._half = (config.footprint_length / 2.0, config.footprint_width / 2.0)

    def evaluate(self, points: Optional[np.ndarray], cmd: Twist2D) -> ZoneResult:
        if points is None or len(points) == 0 or cmd.is_zero():
            return ZoneResult(False, False, math.inf)
        hx, hy = self._half
        q = np.empty_like(points)
        q[:, 0] = np.clip(points[:, 0], -hx, hx)
        q[:, 1] = np.clip(points[:, 1], -hy, hy)
        rel = points - q
        dist = np.hypot(rel[:, 0], rel[:, 1])
        # Velocity of the nearest footprint point under the commanded rigid-body motion.
        ux = cmd.vx - cmd.wz * q[:, 1]
        uy = cmd.vy + cmd.wz * q[:, 0]
        ahead = (ux * rel[:, 0] + uy * rel[:, 1] > 0.0) | (dist == 0.0)
        if not np.any(ahead):
            return ZoneResult(False, False, math.inf)
        nearest = float(np.min(dist[ahead]))
        return ZoneResult(nearest <= self.config.stop_distance,
                          nearest <= self.config.slowdown_distance, nearest)

    def apply(self, points: Optional[np.ndarray], cmd: Twist2D) -> Tuple[Twist2D, ZoneResult]:
        """The command after the zones: zero in the stop zone, scaled in the slowdown zone."""
        result = self.evaluate(points, cmd)
        if result.stop:
            return Twist2D(), result
        if result.slowdown:
            return cmd.scaled(self.config.slowdown_ratio), result
        return cmd, result
