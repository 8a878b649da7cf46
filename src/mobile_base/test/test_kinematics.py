"""Mecanum kinematics: IK/FK round trips, wheel sign conventions, saturation."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mobile_base.core.kinematics import (forward_kinematics, inverse_kinematics, limit_twist,
                                         MecanumGeometry, saturate_wheels, Twist2D)

GEOM = MecanumGeometry(0.05, 0.15, 0.15)
speed = st.floats(-2.0, 2.0, allow_nan=False)


@settings(max_examples=200, deadline=None, database=None)
@given(speed, speed, speed, st.floats(0.02, 0.2), st.floats(0.05, 0.5), st.floats(0.05, 0.5))
def test_fk_of_ik_is_identity(vx, vy, wz, r, lx, ly):
    geom = MecanumGeometry(r, lx, ly)
    back = forward_kinematics(inverse_kinematics(Twist2D(vx, vy, wz), geom), geom)
    assert back.vx == pytest.approx(vx, abs=1e-9)
    assert back.vy == pytest.approx(vy, abs=1e-9)
    assert back.wz == pytest.approx(wz, abs=1e-9)


@settings(max_examples=100, deadline=None, database=None)
@given(speed, speed, speed)
def test_ik_of_fk_is_identity_on_consistent_wheels(vx, vy, wz):
    wheels = inverse_kinematics(Twist2D(vx, vy, wz), GEOM)
    again = inverse_kinematics(forward_kinematics(wheels, GEOM), GEOM)
    assert again == pytest.approx(wheels, abs=1e-9)


def test_fk_is_least_squares_for_inconsistent_wheels():
    # One wheel slipping: FK averages, it does not trust one wheel.
    twist = forward_kinematics((10.0, 10.0, 10.0, 0.0), GEOM)
    assert twist.vx == pytest.approx(0.05 * 30 / 4)


def test_wheel_signs():
    r = GEOM.wheel_radius
    assert inverse_kinematics(Twist2D(0.2, 0, 0), GEOM) == pytest.approx((0.2 / r,) * 4)
    fl, fr, rl, rr = inverse_kinematics(Twist2D(0, 0.2, 0), GEOM)   # strafe left
    assert fl < 0 and rr < 0 and fr > 0 and rl > 0
    fl, fr, rl, rr = inverse_kinematics(Twist2D(0, 0, 1.0), GEOM)   # turn left (CCW)
    assert fl < 0 and rl < 0 and fr > 0 and rr > 0
    assert fr == pytest.approx(0.3 / r)


def test_saturation_preserves_direction():
    twist = Twist2D(0.8, 0.4, 0.5)
    wheels = inverse_kinematics(twist, GEOM)
    limited, scale = saturate_wheels(wheels, 10.0)
    assert max(abs(w) for w in limited) == pytest.approx(10.0)
    assert 0.0 < scale < 1.0
    out = forward_kinematics(limited, GEOM)
    for got, want in ((out.vx, twist.vx), (out.vy, twist.vy), (out.wz, twist.wz)):
        assert got == pytest.approx(want * scale)
    # Direction of travel and curvature unchanged.
    assert math.atan2(out.vy, out.vx) == pytest.approx(math.atan2(twist.vy, twist.vx))
    assert out.wz / out.vx == pytest.approx(twist.wz / twist.vx)


def test_saturation_leaves_small_speeds_alone_and_rejects_non_finite():
    wheels = (1.0, -2.0, 3.0, -4.0)
    assert saturate_wheels(wheels, 10.0) == (wheels, 1.0)
    assert saturate_wheels((1.0, math.nan, 0.0, 0.0), 10.0) == ((0.0, 0.0, 0.0, 0.0), 0.0)
    with pytest.raises(ValueError):
        saturate_wheels(wheels, 0.0)
    with pytest.raises(ValueError):
        saturate_wheels((1.0, 2.0), 10.0)


def test_limit_twist_scales_uniformly():
    out = limit_twist(Twist2D(1.0, 0.25, 0.5), 0.5, 1.0)
    assert (out.vx, out.vy, out.wz) == pytest.approx((0.5, 0.125, 0.25))
    assert limit_twist(Twist2D(math.inf, 0, 0), 0.5, 1.0) == Twist2D()


def test_geometry_validation():
    with pytest.raises(ValueError):
        MecanumGeometry(0.0, 0.15, 0.15)
    with pytest.raises(ValueError):
        MecanumGeometry(0.05, math.nan, 0.15)
