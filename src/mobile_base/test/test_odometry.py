"""Odometry integration against analytic motions, and the odom -> base_link transform."""

import math

import pytest
from mobile_base.core.geometry import Pose2D, wrap_angle
from mobile_base.core.kinematics import inverse_kinematics, MecanumGeometry
from vla_common.planar import Twist2D
from mobile_base.core.odometry import (integrate_twist, OdometryIntegrator, quaternion_to_yaw,
                                       yaw_to_quaternion)


def run(twist, duration, dt, start=Pose2D()):
    odom = OdometryIntegrator()
    odom.reset(start, 0.0)
    t = 0.0
    while t < duration - 1e-12:
        t = min(duration, t + dt)
        odom.update_twist(twist, t)
    return odom


def analytic(twist, t, start=Pose2D()):
    """Closed form of a constant body twist from `start` (world frame)."""
    vx, vy, wz = twist.vx, twist.vy, twist.wz
    if wz == 0.0:
        c, s = math.cos(start.yaw), math.sin(start.yaw)
        return Pose2D(start.x + (c * vx - s * vy) * t, start.y + (s * vx + c * vy) * t, start.yaw)
    th0, th = start.yaw, start.yaw + wz * t
    x = start.x + (vx * (math.sin(th) - math.sin(th0)) + vy * (math.cos(th) - math.cos(th0))) / wz
    y = start.y + (-vx * (math.cos(th) - math.cos(th0)) + vy * (math.sin(th) - math.sin(th0))) / wz
    return Pose2D(x, y, wrap_angle(th))


def assert_pose(a, b, tol=1e-9):
    assert a.x == pytest.approx(b.x, abs=tol)
    assert a.y == pytest.approx(b.y, abs=tol)
    assert wrap_angle(a.yaw - b.yaw) == pytest.approx(0.0, abs=tol)


def test_straight_line():
    odom = run(Twist2D(0.2, 0.0, 0.0), 5.0, 0.02)
    assert_pose(odom.pose, Pose2D(1.0, 0.0, 0.0))
    assert odom.state().distance == pytest.approx(1.0)


def test_strafe_after_turning_uses_current_heading():
    odom = run(Twist2D(0.0, 0.1, 0.0), 2.0, 0.01, start=Pose2D(1.0, 1.0, math.pi / 2))
    assert_pose(odom.pose, Pose2D(0.8, 1.0, math.pi / 2))


def test_pure_rotation():
    odom = run(Twist2D(0.0, 0.0, 0.5), math.pi, 0.01)
    assert_pose(odom.pose, Pose2D(0.0, 0.0, math.pi / 2))
    assert odom.state().distance == 0.0


def test_full_circle_returns_to_start():
    # vx = 0.2 m/s, wz = 0.4 rad/s: radius 0.5 m, period 2 pi / 0.4.
    period = 2 * math.pi / 0.4
    half = run(Twist2D(0.2, 0.0, 0.4), period / 2, 0.05)
    assert_pose(half.pose, Pose2D(0.0, 1.0, math.pi), tol=1e-9)
    full = run(Twist2D(0.2, 0.0, 0.4), period, 0.05)
    assert_pose(full.pose, Pose2D(0.0, 0.0, 0.0), tol=1e-9)


@pytest.mark.parametrize('dt', [0.5, 0.05, 0.001])
def test_holonomic_arc_is_exact_for_any_step(dt):
    twist = Twist2D(0.3, -0.15, 0.7)
    start = Pose2D(0.5, -0.2, 0.3)
    odom = run(twist, 3.0, dt, start)
    assert_pose(odom.pose, analytic(twist, 3.0, start), tol=1e-9)


def test_wheel_updates_match_twist_updates():
    geom = MecanumGeometry()
    twist = Twist2D(0.1, 0.2, -0.3)
    odom = OdometryIntegrator(geom)
    odom.reset(Pose2D(), 0.0)
    for k in range(1, 101):
        odom.update_wheels(inverse_kinematics(twist, geom), k * 0.02)
    assert_pose(odom.pose, analytic(twist, 2.0), tol=1e-9)


def test_transform_and_quaternion():
    odom = run(Twist2D(0.0, 0.0, 1.0), 1.0, 0.1)
    tf = odom.transform()
    assert (tf.parent, tf.child) == ('odom', 'base_link')
    assert tf.rotation == pytest.approx(yaw_to_quaternion(1.0))
    assert quaternion_to_yaw(*tf.rotation) == pytest.approx(1.0)
    assert sum(q * q for q in tf.rotation) == pytest.approx(1.0)


def test_time_backwards_and_nan_are_refused():
    odom = OdometryIntegrator()
    odom.update_twist(Twist2D(0.1, 0, 0), 1.0)
    with pytest.raises(ValueError):
        odom.update_twist(Twist2D(0.1, 0, 0), 0.5)
    with pytest.raises(ValueError):
        odom.update_twist(Twist2D(math.nan, 0, 0), 2.0)


def test_integrate_twist_zero_dt_is_identity():
    p = Pose2D(1.0, 2.0, 0.3)
    assert_pose(integrate_twist(p, Twist2D(1.0, 1.0, 1.0), 0.0), p, tol=1e-12)


def test_pose_compose_inverse():
    p = Pose2D(1.0, -2.0, 0.7)
    ident = p.compose(p.inverse())
    assert_pose(ident, Pose2D())
