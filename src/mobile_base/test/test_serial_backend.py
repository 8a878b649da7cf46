"""The serial backend against an emulated motor board on a pseudo-terminal (os.openpty)."""

import time

import pytest
from mobile_base.backends.serial_backend import SerialBackend
from mobile_base.core.protocol import (ClearFaultCommand, ErrorCode, StopCommand,
                                       WheelVelocityCommand)
from mobile_base.tools.board_emulator import BoardEmulator


@pytest.fixture
def board():
    emu = BoardEmulator(report_rate=100.0).start()
    yield emu
    emu.stop()


@pytest.fixture
def backend(board):
    be = SerialBackend(board.port, device_timeout=0.3, max_consecutive_errors=3,
                       fault_hold=0.3)
    be.open(time.monotonic())
    yield be
    be.close()


def drive(backend, speeds, duration, feedback=None):
    """Run a 100 Hz control loop for `duration` s; return the feedback received."""
    feedback = [] if feedback is None else feedback
    end = time.monotonic() + duration
    while time.monotonic() < end:
        now = time.monotonic()
        feedback += backend.poll(now)
        backend.send(speeds, now)
        time.sleep(0.01)
    return feedback


def drive_until(backend, speeds, predicate, timeout=3.0, what='condition'):
    """Run the control loop until `predicate()` holds (robust to a loaded machine)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        drive(backend, speeds, 0.01)


def healthy(backend):
    return backend.health(time.monotonic()).ok


def test_commands_reach_the_board_and_encoders_come_back(board, backend):
    speeds = (4.0, -2.0, 1.5, 0.0)
    fb = drive(backend, speeds, 0.6)
    cmds = board.messages(WheelVelocityCommand)
    assert len(cmds) > 20
    assert cmds[-1].speeds == pytest.approx(speeds, abs=1e-3)
    assert backend.health(time.monotonic()).ok
    assert len(fb) > 20
    assert fb[-1].speeds == pytest.approx(speeds, abs=1e-3)
    # Encoder positions advance at the commanded speeds.
    dt = fb[-1].stamp - fb[5].stamp
    for i in range(4):
        rate = (fb[-1].positions[i] - fb[5].positions[i]) / dt
        assert rate == pytest.approx(speeds[i], abs=0.05)
    assert backend.counters['checksum'] == 0


def test_isolated_checksum_error_is_reported_but_does_not_stop(board, backend):
    drive(backend, (1.0,) * 4, 0.2)
    board.corrupt_reports(1)
    drive(backend, (1.0,) * 4, 0.3)
    assert backend.counters['checksum'] == 1
    events = backend.events()
    assert any(e.kind == 'checksum' for e in events)
    assert backend.health(time.monotonic()).ok


def test_consecutive_checksum_errors_stop_the_wheels_then_recover(board, backend):
    drive(backend, (2.0,) * 4, 0.2)
    board.corrupt_reports(5)
    t_bad = time.monotonic()
    drive_until(backend, (2.0,) * 4, lambda: not healthy(backend), what='link fault')
    assert 'corrupted' in backend.health(time.monotonic()).fault
    assert backend.counters['checksum'] >= 3
    drive_until(backend, (2.0,) * 4, lambda: board.speeds == [0.0] * 4, what='wheels stopped')
    assert board.messages(StopCommand, since=t_bad), 'the board must be told to stop'
    # After fault_hold with clean frames the backend clears the fault and drives again.
    drive_until(backend, (2.0,) * 4, lambda: healthy(backend), what='recovery')
    drive_until(backend, (2.0,) * 4, lambda: board.speeds == pytest.approx([2.0] * 4),
                what='driving again')
    assert board.messages(ClearFaultCommand, since=t_bad)


def test_silent_device_is_reported_and_stopped(board, backend):
    drive(backend, (3.0,) * 4, 0.2)
    board.silent = True
    drive_until(backend, (3.0,) * 4, lambda: not healthy(backend), what='silence detected')
    backend.poll(time.monotonic())     # events and counters are updated by poll()
    assert 'silent' in backend.health(time.monotonic()).fault
    assert backend.counters['silent'] == 1
    assert any(e.kind == 'silent' and e.level == 'error' for e in backend.events())
    # Once silent, only STOP frames go out (the board still listens), and no feedback comes.
    t_fault = time.monotonic()
    fb = drive(backend, (3.0,) * 4, 0.2)
    assert board.messages(StopCommand, since=t_fault)
    assert not board.messages(WheelVelocityCommand, since=t_fault)
    assert board.speeds == [0.0] * 4
    assert fb == []
    board.silent = False
    drive_until(backend, (3.0,) * 4, lambda: healthy(backend), what='recovery')
    assert any(e.kind == 'recovered' for e in backend.events())


def test_board_error_report_stops_the_wheels(board, backend):
    drive(backend, (1.0,) * 4, 0.2)
    board.send_error(ErrorCode.OVERCURRENT, wheel=1, detail=5200)
    drive_until(backend, (1.0,) * 4, lambda: not healthy(backend), what='board fault')
    health = backend.health(time.monotonic())
    assert 'OVERCURRENT' in health.fault and 'wheel 1' in health.fault
    assert backend.counters['board_errors'] == 1
    drive_until(backend, (1.0,) * 4, lambda: board.speeds == [0.0] * 4, what='wheels stopped')


def test_never_heard_from_device_is_silent():
    be = SerialBackend('loop://', device_timeout=0.1)   # pyserial loopback: only our echo
    be.open(time.monotonic())
    try:
        time.sleep(0.15)
        be.poll(time.monotonic())
        health = be.health(time.monotonic())
        assert not health.ok
    finally:
        be.close()
