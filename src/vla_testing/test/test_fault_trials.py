"""The judge of the two-host fault trials, on synthetic records: it passes a good trial and
catches each kind of bad one."""

from vla_testing.fault_trials import analyse, Bounds, percentiles, TrialRecord

B = Bounds()
GO = [0.3, 0.0, 0.0]
STOP = [0.0, 0.0, 0.0]


def cmds(spans):
    """[(t0, t1, v)] -> gate outputs every 20 ms."""
    out = []
    for t0, t1, v in spans:
        t = t0
        while t < t1 - 1e-9:
            out.append({'k': 'cmd', 't': round(t, 3), 'v': v})
            t += 0.02
    return out


def traffic(t0, t1, side='tx', delay=0.005, late=0.0):
    """The policy's cmd_vel_in (10 Hz) and heartbeat (10 Hz) as published (`tx`, stamped
    with their source time) or received on the robot host (`rx`, `delay` s later); the
    callbacks run `late` s after that (an observer under load)."""
    out = []
    t = t0
    while t < t1:
        for k, extra in (('cmd', {'v': GO}), ('hb', {})):
            rcv = t + (delay if side == 'rx' else 0.0)
            out.append(dict(k=f'{side}_{k}', t=rcv + late, src=t, rcv=rcv, **extra))
        t += 0.1
    return out


def record(robot, policy=None, rx=None, **kw):
    kw.setdefault('t_fault', 10.0)
    kw.setdefault('t_clear', 13.0)
    if rx is None:
        rx = traffic(5.0, 10.0, 'rx') + traffic(13.0, 20.0, 'rx')
    return TrialRecord('link_down', robot=robot + rx, policy=policy if policy is not None
                       else traffic(5.0, 10.0) + traffic(13.0, 20.0), **kw)


def test_a_good_trial_passes():
    res = analyse(record(cmds([(5.0, 10.2, GO), (10.2, 13.4, STOP), (13.4, 15.0, GO)])), B)
    assert res.ok, res.problems
    assert res.moving_at_fault and abs(res.time_to_stop - 0.2) < 1e-6
    assert res.within(B.stop_bound) and res.resumed_fresh
    assert abs(res.t_resume - 13.4) < 1e-6


def test_a_late_stop_is_outside_the_bound():
    res = analyse(record(cmds([(5.0, 10.5, GO), (10.5, 13.4, STOP), (13.4, 15.0, GO)])), B)
    assert res.ok and not res.within(B.stop_bound)


def clock(t0, t1, rate):
    """`/clock` records every 10 ms of wall time from a simulator at `rate` x real time
    (sim time = wall time at t0)."""
    return [{'k': 'clock', 't': t0 + i * 0.01, 'rcv': t0 + i * 0.01,
             'sim': t0 + i * 0.01 * rate} for i in range(int(round((t1 - t0) / 0.01)) + 1)]


def test_the_time_to_stop_on_the_gate_clock_follows_a_slow_simulator():
    # a simulator at half real time: a stop 0.4 wall s after the fault is 0.2 s of gate clock
    robot = cmds([(5.0, 10.4, GO), (10.4, 13.4, STOP), (13.4, 15.0, GO)])
    res = analyse(record(robot + clock(5.0, 15.0, 0.5)), B)
    assert res.ok, res.problems
    assert abs(res.time_to_stop - 0.4) < 1e-6 and not res.within(B.stop_bound)
    assert abs(res.time_to_stop_gate - 0.2) < 1e-6 and res.within_gate_clock(B.stop_bound)
    # no clock records (a gate on the steady clock): no gate-clock figure, never "within"
    bare = analyse(record(robot), B)
    assert bare.time_to_stop_gate is None and not bare.within_gate_clock(B.stop_bound)
    # clock records that end before the stop cannot map it
    short = analyse(record(robot + clock(5.0, 10.3, 0.5)), B)
    assert short.time_to_stop_gate is None


def test_never_stopping_and_motion_during_the_fault_are_caught():
    never = analyse(record(cmds([(5.0, 15.0, GO)])), B)
    assert 'never stopped while the fault lasted' in never.problems
    blip = cmds([(5.0, 10.2, GO), (10.2, 11.0, STOP), (11.0, 11.02, GO), (11.02, 11.5, STOP),
                 (11.5, 13.0, STOP), (13.4, 15.0, GO)])
    res = analyse(record(blip), B)
    # The stop is the zero from which it stays zero: the blip moves it later, past the bound.
    assert not res.within(B.stop_bound)


def test_resuming_without_fresh_traffic_is_caught():
    robot = cmds([(5.0, 10.2, GO), (10.2, 13.1, STOP), (13.1, 15.0, GO)])
    # nothing after the fault on either host
    stale = analyse(record(robot, policy=traffic(5.0, 10.0), rx=traffic(5.0, 10.0, 'rx')), B)
    assert any(p.startswith('motion resumed without a fresh command and heartbeat')
               for p in stale.problems), stale.problems
    assert stale.resumed_fresh is False


def test_a_stale_command_delivered_after_the_link_returns_is_caught():
    """The defect of the two-host benchmark: a command published early in the outage (the
    writer's last sample) arrives when the link returns, with fresh heartbeats; the gate
    moving on it is a failure, and the late delivery is reported."""
    robot = cmds([(5.0, 10.2, GO), (10.2, 13.02, STOP), (13.02, 13.3, GO), (13.3, 15.0, STOP)])
    rx = (traffic(5.0, 10.0, 'rx')
          + [{'k': 'rx_cmd', 't': 13.01, 'src': 10.5, 'rcv': 13.005, 'v': GO}]
          + [e for e in traffic(12.6, 20.0, 'rx') if e['k'] == 'rx_hb']
          + [e for e in traffic(14.0, 20.0, 'rx') if e['k'] == 'rx_cmd'])
    res = analyse(record(robot, rx=rx), B)
    assert res.resumed_fresh is False
    assert any('no fresh command received' in p for p in res.problems), res.problems
    assert [(e['k'], e['src']) for e in res.late_stale] == [('rx_cmd', 10.5)]


def test_an_observer_not_yet_matched_to_a_restarted_policy_is_judged_by_the_policy_view():
    """After a restart the gate may match the new writer before the robot-side observer
    does: the observer received nothing since the fault, the policy host saw a fresh
    command published -- a note, not a failure. Receiving only stale samples stays one."""
    robot = cmds([(5.0, 10.2, GO), (10.2, 14.0, STOP), (14.0, 15.0, GO)])
    rx = traffic(5.0, 9.95, 'rx') + [e for e in traffic(13.5, 20.0, 'rx') if e['k'] == 'rx_hb'] \
        + [e for e in traffic(14.5, 20.0, 'rx') if e['k'] == 'rx_cmd']
    res = analyse(record(robot, rx=rx), B)
    assert res.ok and res.resumed_fresh and 'not matched yet' in res.notes[0], res
    stale = rx + [{'k': 'rx_cmd', 't': 13.9, 'src': 9.9, 'rcv': 13.9, 'v': GO}]
    res = analyse(record(robot, rx=stale), B)
    assert not res.ok and res.resumed_fresh is False


def test_traffic_while_the_link_is_being_brought_up_is_not_motion_during_the_fault():
    """`ip link set up` can take a while under load: motion that starts after lifting began
    (t_lift) and before the command returned (t_clear) is the resume, judged as such."""
    robot = cmds([(5.0, 10.2, GO), (10.2, 12.95, STOP), (12.95, 15.0, GO)])
    rx = traffic(5.0, 9.95, 'rx') + traffic(12.9, 20.0, 'rx')
    res = analyse(record(robot, rx=rx, t_lift=12.85), B)
    assert res.ok and abs(res.t_resume - 12.95) < 1e-6, res
    assert not analyse(record(robot, rx=rx), B).ok     # without t_lift: moving in the fault


def test_late_observer_callbacks_do_not_fail_a_good_trial():
    """The policy-side observer's callbacks running a second late (a loaded host) do not
    matter: freshness is judged from the DDS timestamps."""
    robot = cmds([(5.0, 10.2, GO), (10.2, 13.4, STOP), (13.4, 15.0, GO)])
    policy = traffic(5.0, 10.0, late=1.0) + traffic(13.0, 20.0, late=1.0)
    res = analyse(record(robot, policy=policy, rx=traffic(5.0, 10.0, 'rx', late=1.0)
                         + traffic(13.0, 20.0, 'rx', late=1.0)), B)
    assert res.ok and res.resumed_fresh and not res.notes and not res.late_stale, res


def test_motion_under_the_estop_and_beyond_the_limits_are_caught():
    robot = cmds([(5.0, 10.2, GO), (10.2, 13.5, STOP), (13.5, 13.6, GO), (13.6, 14.0, STOP),
                  (14.0, 15.0, [0.6, 0.0, 0.0])])
    res = analyse(record(robot, t_estop=11.0, t_reset=13.9), B)
    assert res.moved_under_estop == 5
    assert any('before the e-stop reset' in p for p in res.problems)
    assert res.limit_violations == 50


def test_the_gate_reported_ages_are_collected():
    states = [{'k': 'state', 't': 10.3, 'reasons': 4, 'age': 0.26, 'state': 2},
              {'k': 'state', 't': 10.4, 'reasons': 4 | 64, 'age': 0.36, 'state': 2},
              {'k': 'state', 't': 13.5, 'reasons': 0, 'age': 0.0, 'state': 0}]
    res = analyse(record(cmds([(5.0, 10.2, GO), (10.2, 13.4, STOP), (13.4, 15.0, GO)])
                         + states), B)
    assert res.gate_stop_ages == [0.26]
    assert percentiles([3, 1, 2]) == {'n': 3.0, 'min': 1, 'max': 3, 'p50': 2, 'p90': 3,
                                      'p99': 3}
