"""base_driver decision logic: command timeout, refusal of NaN, caps, feedback integration."""

import math

import pytest
from mobile_base.core.driver import DriverConfig, DriverCore
from mobile_base.core.kinematics import forward_kinematics, inverse_kinematics
from vla_common.planar import Twist2D


def test_no_command_means_zero():
    core = DriverCore()
    d = core.decide(0.0)
    assert d.speeds == (0.0,) * 4 and d.reason == 'no_command'


def test_command_then_timeout():
    core = DriverCore(DriverConfig(cmd_timeout=0.5))
    core.on_command(Twist2D(0.2, 0.0, 0.0), now=10.0)
    d = core.decide(10.3)
    assert d.reason == 'ok'
    assert d.speeds == pytest.approx((4.0,) * 4)
    d = core.decide(10.51)
    assert d.reason == 'cmd_timeout' and d.speeds == (0.0,) * 4
    core.on_command(Twist2D(0.2, 0.0, 0.0), now=11.0)
    assert core.decide(11.0).reason == 'ok'


def test_non_finite_command_is_refused_and_stops():
    core = DriverCore()
    core.on_command(Twist2D(0.2, 0.0, 0.0), 0.0)
    assert not core.on_command(Twist2D(math.nan, 0.0, 0.0), 0.1)
    assert core.decide(0.1).speeds == (0.0,) * 4
    assert core.rejected == 1


def test_caps_and_saturation_keep_direction():
    core = DriverCore(DriverConfig(max_wheel_speed=8.0, max_linear=0.5, max_angular=1.0))
    core.on_command(Twist2D(0.9, 0.45, 0.0), 0.0)
    d = core.decide(0.0)
    assert d.reason == 'saturated'
    assert max(abs(s) for s in d.speeds) <= 8.0 + 1e-9
    out = forward_kinematics(d.speeds, core.config.geometry)
    assert math.atan2(out.vy, out.vx) == pytest.approx(math.atan2(0.45, 0.9))
    assert out.vx == pytest.approx(d.twist.vx)


def test_backend_fault_forces_zero():
    core = DriverCore()
    core.on_command(Twist2D(0.2, 0.0, 0.0), 0.0)
    assert core.decide(0.0, backend_ok=False).reason == 'fault'


def test_feedback_from_positions_survives_dropped_reports():
    core = DriverCore()
    geom = core.config.geometry
    wheels = inverse_kinematics(Twist2D(0.2, 0.1, 0.0), geom)
    # Reports every 0.02 s, but only every 5th arrives: positions still give the full motion.
    for k in range(0, 101, 5):
        t = k * 0.02
        core.on_feedback(t, wheels, [w * t for w in wheels])
    pose = core.odometry.pose
    assert (pose.x, pose.y) == pytest.approx((0.4, 0.2))


def test_feedback_speeds_only_and_out_of_order():
    core = DriverCore()
    wheels = inverse_kinematics(Twist2D(0.0, 0.0, 0.5), core.config.geometry)
    for k in range(11):
        core.on_feedback(k * 0.1, wheels)
    assert core.odometry.pose.yaw == pytest.approx(0.5)
    assert core.on_feedback(0.5, wheels) is None      # stale stamp ignored
    assert core.odometry.pose.yaw == pytest.approx(0.5)


def test_config_validation():
    with pytest.raises(ValueError):
        DriverConfig(cmd_timeout=0.0).validate()
