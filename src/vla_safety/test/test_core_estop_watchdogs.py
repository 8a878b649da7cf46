"""Watchdogs, the latched e-stop and the reset rule (the state machine of both gates)."""

import pytest
from vla_safety.core.reasons import GateState, Reason, reason_names, state_for
from vla_safety.core.watchdog import EStopLatch, Supervisor, SupervisorConfig, Watchdog


def test_watchdog_fresh_stale_and_backwards_clock():
    dog = Watchdog(0.25)
    assert not dog.fresh(0.0) and dog.age(0.0) is None
    dog.feed(1.0)
    assert dog.fresh(1.0) and dog.fresh(1.25)
    assert not dog.fresh(1.2501)
    assert not dog.fresh(0.5)      # clock went backwards: stale until fed again
    dog.feed(0.5)
    assert dog.fresh(0.6)


def test_estop_latch_is_idempotent_and_keeps_the_first_reason():
    latch = EStopLatch()
    assert latch.engage('operator', 1.0)
    assert not latch.engage('again', 2.0)
    assert latch.engaged and latch.reason == 'operator' and latch.count == 1
    latch.release()
    assert not latch.engaged and latch.reason == ''


def test_reason_helpers():
    assert reason_names(Reason.ESTOP | Reason.COMMAND_TIMEOUT) == ['ESTOP', 'COMMAND_TIMEOUT']
    assert reason_names(0) == []
    assert state_for(Reason.ESTOP | Reason.VELOCITY_LIMITED) == GateState.ESTOP
    assert state_for(Reason.OBSTACLE_STOP) == GateState.STOPPED
    assert state_for(Reason.GEOFENCE) == GateState.LIMITED
    assert state_for(Reason.NONE) == GateState.OK


def test_supervisor_starts_stopped_without_command_or_heartbeat():
    sup = Supervisor(SupervisorConfig())
    assert sup.faults(0.0) == Reason.NO_COMMAND | Reason.HEARTBEAT_LOST
    assert sup.command_age(0.0) == -1.0
    sup.on_command(1.0, is_zero=False)
    sup.on_heartbeat(1.0)
    assert sup.faults(1.1) == Reason.NONE
    assert sup.faults(1.3) == Reason.COMMAND_TIMEOUT      # 0.25 s timeout
    assert sup.faults(1.6) == Reason.COMMAND_TIMEOUT | Reason.HEARTBEAT_LOST
    assert sup.command_age(1.6) == pytest.approx(0.6)


def test_heartbeat_can_be_optional():
    sup = Supervisor(SupervisorConfig(require_heartbeat=False))
    sup.on_command(0.0, True)
    assert sup.faults(0.1) == Reason.NONE


def test_start_latched_requires_a_reset():
    sup = Supervisor(SupervisorConfig(start_latched=True, require_heartbeat=False))
    assert sup.faults(0.0) & Reason.ESTOP and sup.faults(0.0) & Reason.STARTUP
    assert sup.estop.reason.startswith('startup:')
    # Commands and a heartbeat already flowing do not release it; only a reset does.
    for t in (0.1, 0.2, 0.3):
        sup.on_command(t, is_zero=False)
        sup.on_heartbeat(t)
        assert sup.faults(t) & Reason.STARTUP
    assert not sup.try_reset(0.4, Reason.NONE)[0]          # refused while commanding
    assert sup.try_reset(1.0, Reason.NONE) == (True, 'e-stop released')
    assert not sup.faults(1.0) & (Reason.ESTOP | Reason.STARTUP)
    sup.engage('operator', 2.0)                              # a later e-stop is not STARTUP
    assert sup.faults(2.0) & Reason.ESTOP and not sup.faults(2.0) & Reason.STARTUP


def _engaged(**kw):
    sup = Supervisor(SupervisorConfig(**kw))
    sup.on_heartbeat(0.0)
    sup.engage('test', 0.0)
    return sup


def test_reset_refused_while_commanding_and_accepted_after_quiet_time():
    sup = _engaged()
    for t in (0.0, 0.1, 0.2):
        sup.on_command(t, is_zero=False)
        sup.on_heartbeat(t)
    ok, msg = sup.try_reset(0.3, Reason.NONE)
    assert not ok and 'non-zero command' in msg
    assert sup.estop.engaged
    sup.on_command(0.4, is_zero=True)
    sup.on_heartbeat(0.6)
    ok, _ = sup.try_reset(0.69, Reason.NONE)      # last non-zero at 0.2: 0.49 s < 0.5 s
    assert not ok
    ok, msg = sup.try_reset(0.71, Reason.NONE)
    assert ok and msg == 'e-stop released'
    # Motion needs a command that arrives after the reset.
    assert sup.faults(0.71) & Reason.NO_COMMAND


def test_reset_accepted_with_absent_command():
    sup = _engaged()
    ok, _ = sup.try_reset(0.1, Reason.NONE)
    assert ok


@pytest.mark.parametrize('fault', [Reason.ODOM_TIMEOUT, Reason.SCAN_TIMEOUT,
                                   Reason.JOINT_STATE_TIMEOUT, Reason.NON_FINITE,
                                   Reason.INVALID_COMMAND])
def test_reset_refused_with_another_fault(fault):
    sup = _engaged()
    ok, msg = sup.try_reset(0.4, fault)
    assert not ok and fault.name in msg
    assert sup.estop.engaged


def test_reset_refused_while_heartbeat_lost():
    sup = _engaged()
    ok, msg = sup.try_reset(5.0, Reason.NONE)
    assert not ok and 'HEARTBEAT_LOST' in msg


def test_reset_when_not_engaged_is_a_successful_no_op():
    sup = Supervisor(SupervisorConfig())
    assert sup.try_reset(0.0, Reason.NONE) == (True, 'e-stop was not engaged')


def test_reset_refused_after_a_clock_jump_back():
    sup = _engaged()
    sup.on_command(10.0, is_zero=False)
    sup.on_heartbeat(5.0)
    ok, _ = sup.try_reset(5.0, Reason.NONE)
    assert not ok


def test_a_clock_that_stands_still_for_clock_timeout_wall_seconds_stalls_the_gate():
    sup = Supervisor(SupervisorConfig(clock_timeout=0.25))
    sup.observe_clock(10.0, wall=100.0)
    sup.observe_clock(10.0, wall=100.25)
    assert not sup.faults(10.0) & Reason.CLOCK_STALLED           # exactly the timeout: fine
    sup.observe_clock(10.0, wall=100.26)
    assert sup.faults(10.0) & Reason.CLOCK_STALLED
    assert 'CLOCK_STALLED' in reason_names(sup.faults(10.0))
    ok, message = sup.try_reset(10.0, Reason.NONE)               # nothing to reset, but:
    sup.engage('test', 10.0)
    ok, message = sup.try_reset(10.0, Reason.NONE)
    assert not ok and 'CLOCK_STALLED' in message                 # no reset on a frozen clock
    sup.observe_clock(10.01, wall=100.3)                          # moves again
    assert not sup.faults(10.01) & Reason.CLOCK_STALLED
    sup.observe_clock(9.0, wall=100.6)                            # a jump back is a move too
    assert not sup.faults(9.0) & Reason.CLOCK_STALLED
    off = Supervisor(SupervisorConfig(clock_timeout=0.0))         # lockstep: no check
    off.observe_clock(1.0, wall=0.0)
    off.observe_clock(1.0, wall=60.0)
    assert not off.faults(1.0) & Reason.CLOCK_STALLED
