"""Base velocity limits: deadband, per-axis limits, planar cap, ramps, extreme values."""

import math

import pytest
from vla_safety.core.limits import (AccelLimits, apply_deadband, limit_velocity, ramp,
                                    ramp_axis, Twist2D, VelocityLimits)

LIM = VelocityLimits(max_vx_forward=0.5, max_vx_backward=0.2, max_vy=0.4, max_wz=1.0,
                     max_planar_speed=0.0, preserve_direction=False)


def test_twist_finiteness():
    assert Twist2D(1.0, -2.0, 3.0).is_finite()
    for bad in (math.nan, math.inf, -math.inf):
        assert not Twist2D(bad, 0.0, 0.0).is_finite()
        assert not Twist2D(0.0, bad, 0.0).is_finite()
        assert not Twist2D(0.0, 0.0, bad).is_finite()


def test_deadband_zeroes_small_components_only():
    out = apply_deadband(Twist2D(0.005, -0.2, 0.009), 0.01, 0.01)
    assert out == Twist2D(0.0, -0.2, 0.0)
    assert apply_deadband(Twist2D(-0.01, 0.0, 0.01), 0.01, 0.01) == Twist2D(-0.01, 0.0, 0.01)


@pytest.mark.parametrize('cmd, expected', [
    (Twist2D(1.0, 0.0, 0.0), Twist2D(0.5, 0.0, 0.0)),      # forward limit
    (Twist2D(-1.0, 0.0, 0.0), Twist2D(-0.2, 0.0, 0.0)),    # backward limit is separate
    (Twist2D(0.0, -3.0, 0.0), Twist2D(0.0, -0.4, 0.0)),    # lateral
    (Twist2D(0.0, 0.0, 5.0), Twist2D(0.0, 0.0, 1.0)),      # yaw
    (Twist2D(0.3, 0.1, -0.5), Twist2D(0.3, 0.1, -0.5)),    # inside: untouched
])
def test_per_axis_clamp(cmd, expected):
    out, changed = limit_velocity(cmd, LIM)
    assert out.close_to(expected)
    assert changed == (cmd != expected)


def test_preserve_direction_scales_every_axis_by_one_factor():
    lim = VelocityLimits(0.5, 0.2, 0.4, 1.0, 0.0, preserve_direction=True)
    out, changed = limit_velocity(Twist2D(1.0, 0.2, 0.5), lim)
    assert changed
    assert out.close_to(Twist2D(0.5, 0.1, 0.25))
    # The binding axis can be yaw: linear axes shrink with it (same path, slower).
    out, _ = limit_velocity(Twist2D(0.2, 0.0, 2.0), lim)
    assert out.close_to(Twist2D(0.1, 0.0, 1.0))


def test_planar_cap_keeps_direction():
    lim = VelocityLimits(0.5, 0.5, 0.5, 1.0, max_planar_speed=0.5, preserve_direction=False)
    out, changed = limit_velocity(Twist2D(0.5, 0.5, 0.3), lim)
    assert changed
    assert math.hypot(out.vx, out.vy) == pytest.approx(0.5)
    assert out.vx == pytest.approx(out.vy)          # 45 degrees kept
    assert out.wz == pytest.approx(0.3)             # yaw untouched without preserve_direction
    lim_p = VelocityLimits(0.5, 0.5, 0.5, 1.0, max_planar_speed=0.5, preserve_direction=True)
    out, _ = limit_velocity(Twist2D(0.5, 0.5, 0.3), lim_p)
    assert math.hypot(out.vx, out.vy) == pytest.approx(0.5)
    assert out.wz == pytest.approx(0.3 / math.sqrt(2.0))   # curvature kept


def test_disabled_axis_is_zero_and_does_not_scale_the_others():
    lim = VelocityLimits(0.5, 0.5, 0.0, 1.0, 0.0, preserve_direction=True)
    out, changed = limit_velocity(Twist2D(0.3, 0.2, 0.0), lim)
    assert changed and out == Twist2D(0.3, 0.0, 0.0)


@pytest.mark.parametrize('value', [1e308, -1e308, 1e-320, 5e307])
def test_extreme_finite_values_stay_finite_and_bounded(value):
    for preserve in (True, False):
        lim = VelocityLimits(0.5, 0.2, 0.4, 1.0, 0.5, preserve)
        out, _ = limit_velocity(Twist2D(value, value, value), lim)
        assert out.is_finite()
        assert -0.2 <= out.vx <= 0.5 and abs(out.vy) <= 0.4 and abs(out.wz) <= 1.0
        assert math.hypot(out.vx, out.vy) <= 0.5 + 1e-12


def test_ramp_accelerates_at_most_accel_dt():
    assert ramp_axis(1.0, 0.0, 1.0, 2.0, 0.02) == pytest.approx(0.02)
    assert ramp_axis(-1.0, 0.0, 1.0, 2.0, 0.02) == pytest.approx(-0.02)
    assert ramp_axis(0.01, 0.0, 1.0, 2.0, 0.02) == pytest.approx(0.01)   # no overshoot


def test_ramp_decelerates_at_most_decel_dt():
    assert ramp_axis(0.0, 0.5, 1.0, 2.0, 0.02) == pytest.approx(0.46)
    assert ramp_axis(0.2, 0.5, 1.0, 2.0, 0.02) == pytest.approx(0.46)
    assert ramp_axis(0.0, -0.5, 1.0, 2.0, 0.02) == pytest.approx(-0.46)


def test_ramp_reversal_goes_through_zero_first():
    assert ramp_axis(-0.5, 0.5, 1.0, 2.0, 0.02) == pytest.approx(0.46)
    assert ramp_axis(-0.5, 0.03, 1.0, 2.0, 0.02) == 0.0
    assert ramp_axis(0.5, -0.03, 1.0, 2.0, 0.02) == 0.0


def test_ramp_without_time_holds_previous():
    assert ramp_axis(1.0, 0.3, 1.0, 2.0, 0.0) == 0.3
    assert ramp_axis(1.0, 0.3, 1.0, 2.0, -1.0) == 0.3


def test_ramp_per_axis_limits_and_report():
    acc = AccelLimits(accel_x=1.0, decel_x=2.0, accel_y=0.5, decel_y=1.0, accel_wz=3.0,
                      decel_wz=4.0)
    out, changed = ramp(Twist2D(1.0, 1.0, 1.0), Twist2D(), 0.1, acc)
    assert changed
    assert out.close_to(Twist2D(0.1, 0.05, 0.3))
    out, changed = ramp(Twist2D(0.05, 0.0, 0.0), Twist2D(0.0, 0.0, 0.0), 0.1, acc)
    assert not changed and out == Twist2D(0.05, 0.0, 0.0)
