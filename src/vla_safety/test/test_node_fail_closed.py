"""Fail-closed edge cases, from outside, with the gate run the way the simulator stacks run it
(`use_sim_time: true`, `time_source: ros`, /clock from the test): a forward command and a
heartbeat keep arriving, and each case must stop the base.

- LaserScan readings of -Inf ahead ("too close to measure", REP-117) and below range_min;
- /clock stalled (every watchdog on that clock freezes: CLOCK_STALLED after clock_timeout of
  wall time);
- /clock, odometry and scan all stalled (the simulator died);
- and a scan in another frame than the configured mount is refused from the start, with the
  reason in the log and on /diagnostics.

The wall time from the fault to the first zero is printed (figures, not assertions).
"""

import math
import time

import pytest
from rosgraph_msgs.msg import Clock
from vla_msgs.msg import SafetyState
from vla_testing.ros import wait_for

pytestmark = pytest.mark.stack

T = 20.0
SIM = {'time_source': 'ros', 'use_sim_time': True}


class SimClock:
    """/clock at 100 Hz following the wall clock, until paused."""

    def __init__(self, node):
        self.pub = node.create_publisher(Clock, '/clock', 10)
        self.t0 = time.monotonic()
        self.running = True
        self.sim = 1.0
        self.timer = node.create_timer(0.01, self._tick)

    def _tick(self):
        if self.running:
            self.sim = 1.0 + time.monotonic() - self.t0
        msg = Clock()
        msg.clock.sec = int(self.sim)
        msg.clock.nanosec = int((self.sim % 1.0) * 1e9)
        if self.running:
            self.pub.publish(msg)


def is_zero(msg):
    return (msg.linear.x, msg.linear.y, msg.angular.z) == (0.0, 0.0, 0.0)


def _moving(drv):
    drv.out.wait(1, timeout=T, predicate=lambda m: m.linear.x > 0.05)


def _stop_time(drv, t_fault, reason):
    # Only what arrived after the fault: the gate's start-up states can carry the same reason
    # (e.g. CLOCK_STALLED before the first /clock), and a zero from before proves nothing.
    drv.state.wait(1, timeout=T, predicate=lambda s: s.reasons & reason, since=t_fault)
    drv.out.wait(1, timeout=T, predicate=is_zero, since=t_fault)
    stopped = time.monotonic()
    # what arrives from now on is zero, while the fault lasts
    t_check = time.monotonic()
    drv.out.wait(5, timeout=T, predicate=lambda m: True)
    assert all(is_zero(m) for m in drv.out.since(t_check))
    return stopped - t_fault


@pytest.fixture
def sim_gate(start_gate, driver, make_twist):
    drv = driver()
    clock = SimClock(drv.node)
    start_gate(overrides=SIM)
    drv.wait_connected()
    drv.cmd = make_twist(0.3)
    _moving(drv)
    return drv, clock


@pytest.mark.parametrize('reading', [-math.inf, 0.03], ids=['minus_inf', 'below_range_min'])
def test_too_close_readings_ahead_stop_the_base(sim_gate, reading):
    drv, _ = sim_gate
    ranges = [5.0] * 360
    ranges[180] = reading                     # straight ahead (angle_min -pi, 1 deg steps)
    t = time.monotonic()
    drv.scan_ranges = ranges
    took = _stop_time(drv, t, SafetyState.REASON_OBSTACLE_STOP)
    print(f'too close ({reading}) ahead -> zero after {took * 1000:.0f} ms (wall)')
    # NaN means "no measurement": ignored, the base moves again.
    ranges[180] = math.nan
    drv.scan_ranges = ranges
    _moving(drv)
    # A too-close reading behind does not stop forward motion (the zones follow the motion).
    ranges[180], ranges[0] = 5.0, reading
    drv.scan_ranges = ranges
    t_behind = time.monotonic()
    _moving(drv)
    drv.out.wait(10, timeout=T, predicate=lambda m: True)
    assert not any(is_zero(m) for m in drv.out.since(t_behind + 0.2))


def test_a_stalled_clock_stops_within_the_wall_time_timeout(sim_gate):
    drv, clock = sim_gate
    clock.running = False
    t = time.monotonic()
    took = _stop_time(drv, t, SafetyState.REASON_CLOCK_STALLED)
    print(f'/clock stalled -> zero after {took * 1000:.0f} ms (wall; clock_timeout 250 ms)')
    stalled = drv.state.since(t)
    assert any('CLOCK_STALLED' in s.reason_names for s in stalled)
    clock.running = True                      # the simulator resumes: so does the base
    _moving(drv)


def test_a_dead_simulator_stops_the_base(sim_gate):
    drv, clock = sim_gate
    clock.running = False                     # /clock, odometry and scan all stop
    drv.sensors_on = False
    t = time.monotonic()
    took = _stop_time(drv, t, SafetyState.REASON_CLOCK_STALLED)
    print(f'simulator dead -> zero after {took * 1000:.0f} ms (wall)')


def test_a_scan_in_another_frame_is_refused_at_start_up(start_gate, driver, make_twist):
    from diagnostic_msgs.msg import DiagnosticArray
    from vla_testing.ros import MessageCollector
    drv = driver()
    drv.scan_frame = 'base_scan'
    diag = MessageCollector(drv.node, DiagnosticArray, '/diagnostics')
    gate = start_gate(overrides={'state_rate': 10.0})
    drv.wait_connected()
    drv.cmd = make_twist(0.3)
    why = ("LaserScan refused: scan frame_id 'base_scan' is not the configured mount frame "
           "'laser'")
    wait_for(lambda: why in gate.output(), T, what='the refusal in the log')
    drv.out.wait(20, timeout=T)
    assert all(is_zero(m) for m in drv.out.messages), 'never armed with a refused scan'
    assert drv.state.last.reasons & SafetyState.REASON_SCAN_TIMEOUT
    msg = diag.wait(1, timeout=T, predicate=lambda m: any(
        kv.key == 'scan_refused' for s in m.status for kv in s.values))
    values = {kv.key: kv.value for s in msg.status for kv in s.values}
    assert "'base_scan'" in values['scan_refused']
