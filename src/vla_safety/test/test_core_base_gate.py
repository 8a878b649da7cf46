"""BaseGate decisions: startup, watchdogs, NaN/Inf, e-stop, limits, ramps, fence, scan."""

import math

import pytest
from vla_common.planar import Twist2D
from vla_safety.core.reasons import GateState, Reason


def test_starts_stopped_and_says_why(make_base):
    h = make_base()
    d = h.gate.step(0.0)
    assert d.cmd == Twist2D() and d.state == GateState.STOPPED
    assert d.reasons == (Reason.NO_COMMAND | Reason.ODOM_TIMEOUT | Reason.SCAN_TIMEOUT
                         | Reason.HEARTBEAT_LOST)
    assert d.command_age == -1.0


def test_moves_only_with_command_sensors_and_heartbeat(make_base):
    h = make_base()
    h.gate.on_command(Twist2D(0.3, 0.0, 0.0), 0.0)
    d = h.gate.step(0.0)
    assert d.cmd == Twist2D() and d.reasons & Reason.HEARTBEAT_LOST
    d = h.command(0.02, 0.3)
    assert d.cmd.vx > 0.0 and not d.reasons & Reason.NO_COMMAND


def test_start_latched_starts_in_estop(make_base):
    h = make_base(start_latched=True)
    d = h.run(0.0, 0.5, vx=0.3)
    assert d.state == GateState.ESTOP and d.cmd == Twist2D()
    h.command(0.6)                      # zero command
    h.sensors(1.2)
    ok, _ = h.gate.reset_estop(1.2)
    assert ok
    d = h.run(1.2, 1.5, vx=0.3)
    assert d.state != GateState.ESTOP and d.cmd.vx > 0.0


def test_optional_sensors(make_base):
    h = make_base(require_scan=False, require_odom=False, require_heartbeat=False,
                  **{'geofence.enabled': False})
    h.gate.on_command(Twist2D(0.2, 0.0, 0.0), 0.0)
    d = h.gate.step(0.0)
    assert d.cmd.vx > 0.0 and d.state in (GateState.OK, GateState.LIMITED)


def test_geofence_makes_odometry_required(make_base):
    h = make_base(require_odom=False)
    h.run(0.0, 0.2, vx=0.3)
    h.gate.on_heartbeat(0.8)
    h.gate.on_scan(**{k: v for k, v in h.scan.items()}, now=0.8)
    h.gate.on_command(Twist2D(0.3, 0.0, 0.0), 0.8)
    d = h.gate.step(0.8)                 # odometry last fed at 0.2: stale
    assert d.cmd == Twist2D() and d.reasons & Reason.ODOM_TIMEOUT


def test_command_timeout_stops_immediately_without_ramp(make_base):
    h = make_base()
    d = h.run(0.0, 1.0, vx=0.4)
    assert d.cmd.vx == pytest.approx(0.4)
    h.sensors(1.2)
    assert h.gate.step(1.2).cmd.vx == pytest.approx(0.4)      # 0.2 s old: still fresh
    h.sensors(1.26)
    d = h.gate.step(1.26)
    assert d.cmd == Twist2D()
    assert d.reasons & Reason.COMMAND_TIMEOUT and d.state == GateState.STOPPED
    assert d.command_age == pytest.approx(0.26)
    for t in (1.3, 2.0, 10.0):           # and zeros keep coming
        h.sensors(t)
        assert h.gate.step(t).cmd == Twist2D()


@pytest.mark.parametrize('bad', [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize('axis', range(3))
def test_non_finite_command_is_rejected_whole(make_base, bad, axis):
    h = make_base()
    h.run(0.0, 0.5, vx=0.3, vy=0.1)
    values = [0.3, 0.1, 0.2]
    values[axis] = bad
    d = h.command(0.52, *values)
    assert d.cmd == Twist2D() and d.reasons & Reason.NON_FINITE
    assert d.intervened
    d = h.command(0.54, 0.3)             # a valid command resumes, ramped from zero
    assert not d.reasons & Reason.NON_FINITE
    assert 0.0 < d.cmd.vx <= 1.0 * 0.02 + 1e-12


def test_stale_non_finite_command_reads_as_timeout(make_base):
    h = make_base()
    h.run(0.0, 0.2, vx=0.3)
    h.command(0.22, math.nan)
    h.sensors(0.6)
    d = h.gate.step(0.6)
    assert d.reasons & Reason.COMMAND_TIMEOUT and not d.reasons & Reason.NON_FINITE


def test_estop_latches_until_reset_and_reset_needs_quiet_command(make_base):
    h = make_base()
    h.run(0.0, 1.0, vx=0.4)
    assert h.gate.engage_estop('operator', 1.0)
    d = h.gate.step(1.0)
    assert d.cmd == Twist2D() and d.state == GateState.ESTOP and d.estop_reason == 'operator'
    d = h.run(1.02, 2.0, vx=0.4)        # still commanding: stays zero
    assert d.cmd == Twist2D() and d.state == GateState.ESTOP
    ok, msg = h.gate.reset_estop(2.0)
    assert not ok and 'non-zero' in msg
    h.run(2.02, 2.3)                    # zero command for < 0.5 s
    assert not h.gate.reset_estop(2.3)[0]
    h.run(2.32, 2.6)
    ok, msg = h.gate.reset_estop(2.6)
    assert ok, msg
    h.sensors(2.62)
    d = h.gate.step(2.62)
    assert d.reasons & Reason.NO_COMMAND and d.cmd == Twist2D()   # needs a fresh command
    d = h.run(2.64, 3.0, vx=0.4)
    assert d.cmd.vx > 0.0 and d.state != GateState.ESTOP


def test_reset_refused_while_a_sensor_is_stale(make_base):
    h = make_base()
    h.run(0.0, 0.2)
    h.gate.engage_estop('x', 0.2)
    h.gate.on_heartbeat(1.5)
    h.gate.on_odom(0.0, 0.0, 0.0, 1.5)
    ok, msg = h.gate.reset_estop(1.5)   # scan last seen at 0.2
    assert not ok and 'SCAN_TIMEOUT' in msg


def test_velocity_limits_and_accel_ramp(make_base):
    h = make_base()
    d = h.command(0.0, 2.0)
    assert d.reasons & Reason.VELOCITY_LIMITED and d.reasons & Reason.ACCEL_LIMITED
    assert d.cmd.vx == pytest.approx(1.0 * 0.02)      # one tick of 1 m/s^2
    d = h.run(0.02, 1.0, vx=2.0)
    assert d.cmd.vx == pytest.approx(0.5)              # forward limit
    assert d.state == GateState.LIMITED and not d.reasons & Reason.ACCEL_LIMITED
    d = h.command(1.02, 0.0)                           # policy commands zero: ramped decel
    assert d.cmd.vx == pytest.approx(0.5 - 1.5 * 0.02)
    d = h.run(1.04, 2.0, vx=-2.0)
    assert d.cmd.vx == pytest.approx(-0.5)             # backward limit


def test_deadband(make_base):
    h = make_base()
    d = h.run(0.0, 0.5, vx=0.005, wz=0.005)
    assert d.cmd == Twist2D() and d.state == GateState.OK


def test_geofence_clips_in_the_gate(make_base):
    h = make_base()
    h.pose = (4.6, 0.0, 0.0)            # 0.4 m from the +x fence: margin 0.25, horizon 0.5 s
    d = h.run(0.0, 1.0, vx=0.4, vy=0.2)
    assert d.cmd.vx == pytest.approx(0.3) and d.cmd.vy == pytest.approx(0.2)
    assert d.reasons & Reason.GEOFENCE and d.state == GateState.LIMITED
    h.pose = (4.8, 0.0, 0.0)            # inside the margin band: no motion outwards
    d = h.run(1.02, 1.5, vx=0.4, vy=0.2)
    assert d.cmd.vx == 0.0 and d.cmd.vy == pytest.approx(0.2)
    d = h.run(1.52, 2.5, vx=-0.4)       # back inside is fine
    assert d.cmd.vx < 0.0 and not d.reasons & Reason.GEOFENCE


def test_scan_obstacle_stop_and_slowdown(make_base):
    h = make_base()
    ranges = [5.0] * 360
    ranges[180] = 0.27                  # straight ahead (angle 0): 0.07 m from the front face
    h.scan['ranges'] = ranges
    d = h.run(0.0, 0.5, vx=0.3)
    assert d.cmd == Twist2D() and d.reasons & Reason.OBSTACLE_STOP
    assert d.state == GateState.STOPPED
    d = h.run(0.52, 1.0, vx=-0.3)       # backing away is allowed
    assert d.cmd.vx < 0.0 and not d.reasons & Reason.OBSTACLE_STOP
    ranges[180] = 0.45                  # 0.25 m: slowdown zone
    d = h.run(1.02, 3.0, vx=0.4)
    assert d.reasons & Reason.OBSTACLE_SLOWDOWN
    assert d.cmd.vx == pytest.approx(0.2)


def test_stale_scan_stops_fail_closed(make_base):
    h = make_base()
    h.run(0.0, 0.5, vx=0.3)
    h.gate.on_heartbeat(1.2)
    h.gate.on_odom(0.0, 0.0, 0.0, 1.2)
    h.gate.on_command(Twist2D(0.3, 0.0, 0.0), 1.2)
    d = h.gate.step(1.2)
    assert d.cmd == Twist2D() and d.reasons == Reason.SCAN_TIMEOUT


def test_bad_scan_is_dropped_and_goes_stale(make_base):
    h = make_base()
    h.run(0.0, 0.1)
    assert not h.gate.on_scan(math.nan, 0.1, 0.0, 1.0, [1.0], 0.2)
    assert h.gate.scans_rejected == 1


def test_non_finite_odometry_is_dropped(make_base):
    h = make_base()
    assert not h.gate.on_odom(math.nan, 0.0, 0.0, 0.0)
    assert not h.gate.on_odom(0.0, 0.0, math.inf, 0.0)


def test_heartbeat_lock(make_base):
    h = make_base()
    h.run(0.0, 0.5, vx=0.3)
    for t in (0.52, 0.8, 1.1):          # commands and sensors keep coming, heartbeat does not
        h.gate.on_odom(0.0, 0.0, 0.0, t)
        h.gate.on_scan(**h.scan, now=t)
        h.gate.on_command(Twist2D(0.3, 0.0, 0.0), t)
    d = h.gate.step(1.1)
    assert d.cmd == Twist2D() and d.reasons == Reason.HEARTBEAT_LOST
    d = h.run(1.12, 1.3, vx=0.3)        # heartbeat back: unlocks (like a twist_mux lock)
    assert d.cmd.vx > 0.0


def test_interventions_count_modified_current_commands(make_base):
    h = make_base()
    h.run(0.0, 1.0, vx=0.2)             # ramps for 10 ticks, then passes
    n = h.gate.interventions
    assert 5 <= n <= 12
    h.run(1.02, 1.5, vx=0.2)
    assert h.gate.interventions == n
    h.sensors(5.0)
    h.gate.step(5.0)                    # stale command: not an intervention
    assert h.gate.interventions == n


def test_reconfigure_keeps_inputs(make_base):
    from dataclasses import replace
    h = make_base()
    h.run(0.0, 1.0, vx=0.5)
    cfg = replace(h.config, velocity=replace(h.config.velocity, max_vx_forward=0.2))
    h.gate.reconfigure(cfg)
    h.gate.on_command(Twist2D(0.5, 0.0, 0.0), 1.0)
    d = h.gate.step(1.02)
    assert d.cmd.vx == pytest.approx(0.2) and d.state != GateState.STOPPED


def test_a_scan_in_another_frame_than_the_mount_is_refused_with_the_reason(make_base):
    h = make_base()
    scan = dict(h.scan)
    assert not h.gate.on_scan(**scan, now=0.0, frame_id='base_scan')
    assert "'base_scan'" in h.gate.scan_refusal and "'laser'" in h.gate.scan_refusal
    h.gate.on_odom(0.0, 0.0, 0.0, 0.0)
    h.gate.on_heartbeat(0.0)
    h.gate.on_command(Twist2D(0.3, 0.0, 0.0), 0.0)
    d = h.gate.step(0.0)
    assert d.cmd == Twist2D() and d.reasons & Reason.SCAN_TIMEOUT
    assert h.gate.on_scan(**scan, now=0.02, frame_id='laser') and not h.gate.scan_refusal
    h2 = make_base(**{'scan.frame_id': ''})                     # '' accepts any frame
    assert h2.gate.on_scan(**scan, now=0.0, frame_id='anything')


def test_too_close_readings_ahead_stop_and_nan_is_ignored(make_base):
    h = make_base()
    h.run(0.0, 1.0, vx=0.3)
    ahead = len(h.scan['ranges']) // 2          # angle_min -pi: the middle beam looks ahead
    for k, (reading, stops) in enumerate(((-math.inf, True), (0.01, True), (math.nan, False))):
        t = 2.0 * (k + 1)
        h.run(t - 1.0, t - 0.02, vx=0.3)        # moving again
        scan = dict(h.scan)
        scan['ranges'] = list(scan['ranges'])
        scan['ranges'][ahead] = reading
        h.gate.on_heartbeat(t)
        h.gate.on_odom(0.0, 0.0, 0.0, t)
        assert h.gate.on_scan(**scan, now=t)
        h.gate.on_command(Twist2D(0.3, 0.0, 0.0), t)
        d = h.gate.step(t)
        assert bool(d.reasons & Reason.OBSTACLE_STOP) == stops, reading
        assert (d.cmd == Twist2D()) == stops, reading
