"""LaserScan stop / slowdown zones in the direction of motion."""

import math

import numpy as np
import pytest
from vla_common.planar import Twist2D
from vla_safety.core.scan_zones import scan_to_points, ScanError, ScanZoneConfig, ScanZones

ZONES = ScanZones(ScanZoneConfig(footprint_length=0.40, footprint_width=0.30,
                                 stop_distance=0.10, slowdown_distance=0.40,
                                 slowdown_ratio=0.5))


def pts(*xy):
    return np.array(xy, dtype=float)


def test_scan_to_points_reads_rep117():
    """NaN (no return), +Inf and above range_max (nothing in range) carry no obstacle;
    -Inf and below range_min ("too close to measure") are obstacles at range_min."""
    ranges = [1.0, math.nan, math.inf, -math.inf, 0.01, 7.0, 2.0]
    p = scan_to_points(0.0, math.pi / 2, 0.05, 6.0, ranges)
    beam = [(math.cos(i * math.pi / 2), math.sin(i * math.pi / 2)) for i in range(7)]
    assert p.shape == (4, 2)
    assert p[0] == pytest.approx([1.0, 0.0])
    assert p[1] == pytest.approx([0.05 * beam[3][0], 0.05 * beam[3][1]], abs=1e-12)   # -inf
    assert p[2] == pytest.approx([0.05 * beam[4][0], 0.05 * beam[4][1]], abs=1e-12)   # 0.01
    assert p[3] == pytest.approx([2.0 * beam[6][0], 2.0 * beam[6][1]], abs=1e-9)


def test_scan_geometry_that_overflows_is_refused():
    with pytest.raises(ScanError, match='overflow'):
        scan_to_points(0.0, 1e308, 0.05, 6.0, [1.0, 1.0, 1.0])


def test_scan_to_points_applies_the_laser_pose():
    p = scan_to_points(0.0, 0.1, 0.0, 10.0, [1.0], laser_x=0.1, laser_y=-0.2,
                       laser_yaw=math.pi / 2)
    assert p[0] == pytest.approx([0.1, 0.8])


@pytest.mark.parametrize('args', [
    (math.nan, 0.1, 0.0, 1.0, [1.0]),
    (0.0, math.inf, 0.0, 1.0, [1.0]),
    (0.0, 0.1, 0.0, 1.0, []),
    (0.0, 0.0, 0.0, 1.0, [1.0, 1.0]),
])
def test_unusable_scan_geometry_raises(args):
    with pytest.raises(ScanError):
        scan_to_points(*args)


def test_obstacle_ahead_in_stop_zone_stops():
    # Front face at x = 0.20; a point at x = 0.28 is 0.08 m away.
    out, res = ZONES.apply(pts([0.28, 0.0]), Twist2D(0.3, 0.0, 0.0))
    assert res.stop and out == Twist2D()
    assert res.nearest_ahead == pytest.approx(0.08)


def test_collision_threshold_boundary():
    assert ZONES.evaluate(pts([0.30, 0.0]), Twist2D(0.3, 0.0, 0.0)).stop       # exactly 0.10
    res = ZONES.evaluate(pts([0.31, 0.0]), Twist2D(0.3, 0.0, 0.0))
    assert not res.stop and res.slowdown


def test_obstacle_behind_or_beside_the_motion_is_ignored():
    assert not ZONES.evaluate(pts([-0.25, 0.0]), Twist2D(0.3, 0.0, 0.0)).slowdown
    # 5 cm beside the left side while driving forward: not in the direction of motion.
    assert not ZONES.evaluate(pts([0.0, 0.20]), Twist2D(0.3, 0.0, 0.0)).slowdown
    # ... but it is when strafing left.
    assert ZONES.evaluate(pts([0.0, 0.20]), Twist2D(0.0, 0.3, 0.0)).stop


def test_moving_away_from_a_close_obstacle_is_allowed():
    out, res = ZONES.apply(pts([0.25, 0.0]), Twist2D(-0.3, 0.0, 0.0))
    assert not res.stop and out == Twist2D(-0.3, 0.0, 0.0)


def test_rotation_sweeps_the_corners():
    # Beside the front-left corner: a counter-clockwise turn swings that corner into it.
    p = pts([0.15, 0.20])
    assert ZONES.evaluate(p, Twist2D(0.0, 0.0, 0.5)).stop
    assert not ZONES.evaluate(p, Twist2D(0.0, 0.0, -0.5)).stop


def test_slowdown_zone_scales_the_command():
    out, res = ZONES.apply(pts([0.45, 0.05]), Twist2D(0.4, 0.1, 0.2))
    assert res.slowdown and not res.stop
    assert out.close_to(Twist2D(0.2, 0.05, 0.1))


def test_far_obstacles_and_zero_command_do_nothing():
    out, res = ZONES.apply(pts([1.0, 0.0], [-1.0, 0.0]), Twist2D(0.5, 0.0, 0.0))
    assert not res.slowdown and out == Twist2D(0.5, 0.0, 0.0)
    out, res = ZONES.apply(pts([0.21, 0.0]), Twist2D())
    assert not res.stop and out == Twist2D()


def test_point_inside_the_footprint_stops_any_motion():
    assert ZONES.evaluate(pts([0.0, 0.0]), Twist2D(-0.1, 0.0, 0.0)).stop


def test_no_points_means_no_zone():
    assert not ZONES.evaluate(np.zeros((0, 2)), Twist2D(0.5, 0.0, 0.0)).slowdown
    assert not ZONES.evaluate(None, Twist2D(0.5, 0.0, 0.0)).slowdown
