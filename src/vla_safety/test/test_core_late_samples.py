"""Samples delivered late (a reliable writer's last sample when a link comes back) cannot
restart motion.

With the link down, the policy's last `cmd_vel_in` and `heartbeat` stay in its reliable
writers' history and can be delivered when the link returns, long after they were written.
The gate took any sample as fresh on arrival (nothing in a Twist says when it was written),
so such a delivery could have restarted motion on a command from before the outage. The
two-host runs never showed one (docs/reliability.md); this reproduces it at the core.
Times here are the gate's clock; `transit` is source -> reception (s).
"""

from vla_common.planar import Twist2D
from vla_safety.core.gate import ARM_MODE_EE_DELTA, ARM_MODE_HOLD, ArmInput
from vla_safety.core.reasons import GateState, Reason

GO = Twist2D(0.3, 0.0, 0.0)


def _outage(h, t_down=1.0, t_up=4.0):
    """Moving, then the link down from t_down to t_up (the sensors stay local)."""
    d = h.run(0.0, t_down, vx=GO.vx)
    assert d.cmd.vx > 0.0
    t = t_down
    while t < t_up:
        t = round(t + 0.02, 6)
        h.gate.on_odom(*h.pose, t)
        s = h.scan
        h.gate.on_scan(s['angle_min'], s['angle_increment'], s['range_min'], s['range_max'],
                       s['ranges'], t)
        d = h.gate.step(t)
    assert d.cmd == Twist2D() and d.reasons & Reason.COMMAND_TIMEOUT
    assert d.reasons & Reason.HEARTBEAT_LOST
    return t


def test_a_command_and_heartbeat_from_before_the_outage_do_not_restart_motion(make_base):
    h = make_base()
    t = _outage(h)
    # The link is back: the writers' last samples, written at 1.0 s, arrive at 4.0 s.
    h.gate.on_heartbeat(t, transit=t - 1.0)
    h.gate.on_command(GO, t, transit=t - 1.0)
    d = h.gate.step(t)
    assert d.cmd == Twist2D() and d.state == GateState.STOPPED
    assert d.reasons & Reason.COMMAND_TIMEOUT and d.reasons & Reason.HEARTBEAT_LOST
    assert h.gate.late_refused == 2 and 'refused as stale' in h.gate.late_refusal
    # A fresh heartbeat alone is not enough: the stale command still does not count.
    h.gate.on_heartbeat(t + 0.02, transit=0.003)
    h.gate.on_command(GO, t + 0.02, transit=3.02)
    assert h.gate.step(t + 0.02).cmd == Twist2D() and h.gate.late_refused == 3
    # A command the policy publishes now does.
    h.gate.on_command(GO, t + 0.04, transit=0.004)
    d = h.gate.step(t + 0.04)
    assert d.cmd.vx > 0.0 and not d.reasons & Reason.COMMAND_TIMEOUT


def test_a_fresh_heartbeat_with_a_late_command_keeps_the_gate_stopped(make_base):
    """The refused command changes nothing: not the last command, not its age."""
    h = make_base()
    t = _outage(h)
    age_before = h.gate.step(t).command_age
    h.gate.on_heartbeat(t, transit=0.002)
    h.gate.on_command(Twist2D(0.5, 0.0, 0.0), t, transit=0.26)   # just over the 0.25 s
    d = h.gate.step(t)
    assert d.cmd == Twist2D() and d.command_age == age_before


def test_samples_within_the_timeout_and_without_timestamps_are_taken(make_base):
    h = make_base()
    h.sensors(0.0)
    h.gate.on_heartbeat(0.0, transit=0.5)          # the heartbeat timeout itself
    h.gate.on_command(GO, 0.0, transit=0.25)       # the command timeout itself
    h.gate.on_command(GO, 0.02, transit=None)      # the RMW gave no timestamps
    h.gate.on_command(GO, 0.04, transit=-0.01)     # the writer's clock slightly ahead
    assert h.gate.step(0.04).cmd.vx > 0.0 and h.gate.late_refused == 0


def test_the_arm_gate_refuses_a_late_command(make_arm):
    h = make_arm()
    h.sensors(0.0)
    late = ArmInput(ARM_MODE_EE_DELTA, (0.01, 0.0, 0.0, 0.0, 0.0, 0.0), (), 0.0)
    h.gate.on_command(late, 0.0, transit=1.0)
    d = h.gate.step(0.0)
    assert d.reasons & Reason.NO_COMMAND           # as if it had never arrived: no motion
    assert d.output is None or d.output.mode == ARM_MODE_HOLD   # a routine stop holds
    assert h.gate.late_refused == 1


def test_a_heartbeat_is_as_late_as_the_worst_evidence_says():
    """DDS transit and the header stamp's age: the larger known one decides; an unstamped
    heartbeat has no stamp age, a future stamp (another kind of clock) is not lateness."""
    from vla_safety.core.watchdog import lateness, stamp_age
    assert stamp_age(0.0, 100.0) is None
    assert stamp_age(99.0, 100.0) == 1.0 and stamp_age(101.0, 100.0) == -1.0
    assert lateness(None, None) is None
    assert lateness(0.01, None) == 0.01 and lateness(None, 0.7) == 0.7
    assert lateness(0.01, 0.7) == 0.7 and lateness(0.9, -5.0) == 0.9
