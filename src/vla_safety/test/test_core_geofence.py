"""Geofence polygon and short-horizon clipping."""

import math

import pytest
from vla_common.planar import Twist2D
from vla_safety.core.geofence import Geofence, GeofenceConfig, GeofenceError, Polygon

SQUARE = (-2.0, -2.0, 2.0, -2.0, 2.0, 2.0, -2.0, 2.0)


def fence(polygon=SQUARE, horizon=1.0, margin=0.2):
    return Geofence(GeofenceConfig(polygon, horizon, margin))


@pytest.mark.parametrize('flat, match', [
    ((0.0, 0.0, 1.0, 0.0), 'at least 3'),
    ((0.0, 0.0, 1.0, 0.0, 2.0, 0.0), 'zero area'),
    ((0.0, 0.0, 2.0, 2.0, 2.0, 0.0, 0.0, 1.0), 'intersect'),
    ((0.0, 0.0, 1.0, 0.0, math.nan, 1.0), 'finite'),
    ((0.0, 0.0, 1.0), 'even'),
])
def test_bad_polygons_are_refused(flat, match):
    with pytest.raises(GeofenceError, match=match):
        Polygon.from_flat(flat)


def test_clockwise_input_is_normalised_and_distances_are_signed():
    poly = Polygon([(-1, -1), (-1, 1), (1, 1), (1, -1)])     # clockwise
    assert poly.contains((0.0, 0.0)) and not poly.contains((1.5, 0.0))
    assert poly.signed_distance((0.0, 0.0)) == pytest.approx(1.0)
    assert poly.signed_distance((1.5, 0.0)) == pytest.approx(-0.5)
    _, edge = poly.nearest_edge((0.9, 0.0))
    assert poly.outward_normal(edge) == pytest.approx((1.0, 0.0))


def test_far_inside_motion_is_untouched():
    out, clipped = fence().clip(0.0, 0.0, 0.0, Twist2D(0.5, 0.3, 0.2))
    assert not clipped and out == Twist2D(0.5, 0.3, 0.2)


def test_motion_towards_the_fence_is_slowed_to_stop_at_the_margin():
    # 1.5 m from the origin: the +x fence is 0.5 m away, the margin 0.2 m, the horizon 1 s,
    # so at most 0.3 m/s towards it; sliding along the fence and yaw are kept.
    out, clipped = fence().clip(1.5, 0.0, 0.0, Twist2D(0.5, 0.3, 0.4))
    assert clipped
    assert out.vx == pytest.approx(0.3) and out.vy == 0.3 and out.wz == 0.4
    out, clipped = fence().clip(1.5, 0.0, 0.0, Twist2D(0.25, 0.3, 0.4))
    assert not clipped


def test_approach_converges_to_the_margin_without_crossing():
    g = fence()
    x = 0.0
    for _ in range(500):
        out, _ = g.clip(x, 0.0, 0.0, Twist2D(0.5, 0.0, 0.0))
        x += out.vx * 0.02
    assert 1.7 < x <= 1.8 + 1e-6


def test_motion_back_inside_is_allowed_even_from_outside():
    out, clipped = fence().clip(2.5, 0.0, 0.0, Twist2D(-0.5, 0.0, 0.0))
    assert not clipped and out == Twist2D(-0.5, 0.0, 0.0)
    out, clipped = fence().clip(2.5, 0.0, 0.0, Twist2D(0.2, 0.0, 0.0))
    assert clipped and out.vx == 0.0


def test_inside_margin_band_cannot_go_deeper_but_can_leave_it():
    out, clipped = fence().clip(1.9, 0.0, 0.0, Twist2D(0.1, 0.0, 0.0))
    assert clipped and out.vx == 0.0
    out, clipped = fence().clip(1.9, 0.0, 0.0, Twist2D(-0.1, 0.2, 0.0))
    assert not clipped


def test_heading_is_taken_into_account():
    # Facing +y (yaw 90 deg) near the +y fence: body x is the outward direction.
    out, clipped = fence().clip(0.0, 1.6, math.pi / 2, Twist2D(0.5, 0.2, 0.0))
    assert clipped
    assert out.vx == pytest.approx(0.2) and out.vy == 0.2
    # Body -y points at world +x: moving body -y near the +x fence is clipped.
    out, clipped = fence().clip(1.85, 0.0, math.pi / 2, Twist2D(0.0, -0.5, 0.0))
    assert clipped and out.vy == 0.0


def test_corner_limits_both_components():
    out, clipped = fence().clip(1.7, 1.7, 0.0, Twist2D(0.4, 0.4, 0.1))
    assert clipped and out.wz == 0.1
    assert out.vx == pytest.approx(0.1, abs=1e-6) and out.vy == pytest.approx(0.1, abs=1e-6)
    out, clipped = fence().clip(1.9, 1.9, 0.0, Twist2D(0.4, 0.4, 0.1))   # in the band
    assert clipped and out == Twist2D(0.0, 0.0, 0.1)


def test_non_convex_notch_is_checked_along_the_path():
    # An L-shape: the square minus its top-right quadrant.
    ell = (-2.0, -2.0, 2.0, -2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 2.0, -2.0, 2.0)
    g = fence(ell, horizon=2.0, margin=0.1)
    out, clipped = g.clip(-0.5, 0.5, 0.0, Twist2D(0.5, 0.0, 0.0))   # towards the notch wall
    assert clipped and out.vx == 0.0
    out, clipped = g.clip(1.0, -1.0, 0.0, Twist2D(0.0, -0.3, 0.0))  # well inside the foot
    assert not clipped


def test_zero_planar_motion_is_never_clipped():
    out, clipped = fence().clip(5.0, 5.0, 0.0, Twist2D(0.0, 0.0, 0.8))
    assert not clipped and out.wz == 0.8


def test_clipping_never_increases_or_flips_a_component():
    g = fence()
    for yaw in (0.0, 0.3, 1.0, 2.5, -2.0):
        for pos in ((1.8, 0.0), (1.8, 1.8), (-1.9, 0.5), (2.4, -2.4), (1.5, -1.0)):
            cmd = Twist2D(0.4, -0.3, 0.2)
            out, _ = g.clip(pos[0], pos[1], yaw, cmd)
            assert 0.0 <= out.vx <= cmd.vx and cmd.vy <= out.vy <= 0.0 and out.wz == cmd.wz
