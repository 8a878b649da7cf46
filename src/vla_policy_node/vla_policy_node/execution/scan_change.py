"""A scene-change trigger from the planar laser: something entered space the last scan saw free.

The camera sees 80 degrees ahead; the laser sees all around. When a box moves or appears beside
the robot, the picture may not show it yet, but the scan does. Each scan is compared with the
previous one, both placed in the odometry frame with the robot's pose: a point of the new scan
that lies, as seen from the previous scan's origin, nearer than everything the previous scan
measured along that bearing (and its two neighbours) by more than `tolerance` is in space the
previous scan saw free. `min_points` such points within `max_range` make a change.

Ego-motion alone does not produce such points: driving closer to a wall keeps it at the range
the previous scan measured, and driving past a box reveals what was behind it, which lies
*farther* than the previous reading. An object that moves into free space, or appears, does.

A bearing with no reading (NaN) claims nothing free; no return (+inf, or beyond range_max)
claims free space up to range_max; a too-close reading (-inf, REP 117) claims none.

Pure numpy; poses are (x, y, yaw) in one fixed frame (odom), angles in radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

Pose2 = Tuple[float, float, float]


class ScanChangeError(ValueError):
    """A scan whose geometry cannot be used."""


@dataclass(frozen=True)
class PlanarScan:
    """One planar laser scan (the LaserScan fields the comparison needs), stamp in seconds."""

    angle_min: float
    angle_increment: float
    range_min: float
    range_max: float
    ranges: np.ndarray
    stamp: float = 0.0

    @staticmethod
    def of(angle_min: float, angle_increment: float, range_min: float, range_max: float,
           ranges: Sequence[float], stamp: float = 0.0) -> 'PlanarScan':
        """A validated scan: finite geometry, at least one beam, a non-zero increment."""
        r = np.asarray(ranges, dtype=np.float64).reshape(-1)
        if not all(math.isfinite(v) for v in (angle_min, angle_increment, range_min,
                                              range_max)):
            raise ScanChangeError('scan angles/limits are not finite')
        if r.size < 2 or angle_increment == 0.0:
            raise ScanChangeError('scan needs two or more beams and a non-zero increment')
        if not 0.0 <= range_min < range_max:
            raise ScanChangeError(f'scan range limits [{range_min}, {range_max}] are invalid')
        return PlanarScan(float(angle_min), float(angle_increment), float(range_min),
                          float(range_max), r, float(stamp))

    @property
    def geometry(self) -> Tuple[float, float, int]:
        return (self.angle_min, self.angle_increment, self.ranges.size)

    def free_ranges(self) -> np.ndarray:
        """Per beam, how far the scan saw free space (m)."""
        r = self.ranges
        free = np.where(np.isposinf(r) | (r > self.range_max), self.range_max, r)
        return np.where(np.isnan(free) | np.isneginf(free) | (free < self.range_min), 0.0,
                        free)

    def points(self, max_range: float) -> np.ndarray:
        """The returns within [range_min, min(range_max, max_range)] as (N, 2) in the laser
        frame."""
        r = self.ranges
        with np.errstate(invalid='ignore'):
            ok = np.isfinite(r) & (r >= self.range_min) & (r <= min(self.range_max, max_range))
        a = self.angle_min + self.angle_increment * np.flatnonzero(ok)
        return np.stack([r[ok] * np.cos(a), r[ok] * np.sin(a)], axis=1)


def compose(a: Pose2, b: Pose2) -> Pose2:
    """a (+) b: the pose b, given in a's frame, in a's parent frame."""
    c, s = math.cos(a[2]), math.sin(a[2])
    return (a[0] + c * b[0] - s * b[1], a[1] + s * b[0] + c * b[1], a[2] + b[2])


def intrusions(previous: PlanarScan, previous_pose: Pose2, scan: PlanarScan, pose: Pose2,
               tolerance: float, max_range: float) -> int:
    """How many returns of `scan` (taken at laser pose `pose`) lie where `previous` (taken at
    `previous_pose`) saw free space, by more than `tolerance` (module docstring). Both scans
    must have the same beam geometry."""
    if previous.geometry != scan.geometry:
        raise ScanChangeError('the two scans have different beam geometry')
    pts = scan.points(max_range)
    if pts.size == 0:
        return 0
    # The new points in the previous laser frame.
    c, s = math.cos(pose[2]), math.sin(pose[2])
    wx = pose[0] + c * pts[:, 0] - s * pts[:, 1] - previous_pose[0]
    wy = pose[1] + s * pts[:, 0] + c * pts[:, 1] - previous_pose[1]
    pc, ps = math.cos(previous_pose[2]), math.sin(previous_pose[2])
    px, py = pc * wx + ps * wy, -ps * wx + pc * wy
    rho = np.hypot(px, py)
    n = previous.ranges.size
    span = previous.angle_increment * n
    full_circle = abs(abs(span) - 2.0 * math.pi) < abs(previous.angle_increment)
    k = np.rint((np.arctan2(py, px) - previous.angle_min) / previous.angle_increment)
    if full_circle:
        k = np.mod(k, n)
    inside = (k >= 0) & (k < n)
    k = k[inside].astype(np.int64)
    rho = rho[inside]
    free = previous.free_ranges()
    neighbours = np.stack([k - 1, k, k + 1])
    neighbours = np.mod(neighbours, n) if full_circle else np.clip(neighbours, 0, n - 1)
    seen_free = free[neighbours].min(axis=0)
    return int(np.count_nonzero(rho < seen_free - tolerance))


@dataclass(frozen=True)
class ScanChangeConfig:
    """`min_points` 0 disables; `mount` = the laser's pose in base_link (x, y, yaw).

    4 points and 0.08 m: measured with `bench_scene_change.py` (docs/policy.md).
    """

    min_points: int = 4
    tolerance: float = 0.08
    max_range: float = 2.5
    max_gap: float = 0.5
    mount: Pose2 = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.min_points < 0:
            raise ValueError('scan_change_points must be >= 0')
        if not self.tolerance > 0 or not self.max_range > 0 or not self.max_gap > 0:
            raise ValueError('scan_change tolerance, range and gap must be > 0')
        if len(self.mount) != 3 or not all(math.isfinite(v) for v in self.mount):
            raise ValueError('laser mount must be three finite numbers (x, y, yaw)')


class ScanChangeDetector:
    """Compares each scan with the previous one (see the module docstring).

    `on_pose` gives the base pose in odom (the latest one is used for the next scan);
    `on_scan` returns the number of intrusions (0 when there is nothing to compare with: no
    pose yet, the first scan, a gap longer than `max_gap`, other beam geometry, an older
    stamp).
    """

    def __init__(self, config: ScanChangeConfig) -> None:
        self.config = config
        self._pose: Optional[Pose2] = None
        self._previous: Optional[Tuple[PlanarScan, Pose2]] = None
        self.last_count = 0

    def reset(self) -> None:
        self._previous = None
        self.last_count = 0

    def on_pose(self, x: float, y: float, yaw: float) -> None:
        if all(math.isfinite(v) for v in (x, y, yaw)):
            self._pose = (float(x), float(y), float(yaw))

    def on_scan(self, scan: PlanarScan) -> int:
        cfg = self.config
        if cfg.min_points == 0 or self._pose is None:
            return 0
        prev = self._previous
        if prev is not None and scan.stamp < prev[0].stamp:
            return 0                       # out of order: keep the newer reference
        laser = compose(self._pose, cfg.mount)
        self._previous = (scan, laser)
        if prev is None or scan.stamp - prev[0].stamp > cfg.max_gap \
                or prev[0].geometry != scan.geometry:
            self.last_count = 0
            return 0
        self.last_count = intrusions(prev[0], prev[1], scan, laser, cfg.tolerance,
                                     cfg.max_range)
        return self.last_count
