"""The `safety_gate` executable in arm mode (RealMan RM75 defaults), in its own process."""

import math
import time

import pytest
from vla_msgs.msg import ArmCommand, SafetyState
from vla_testing.gate_driver import HOME_Q

pytestmark = pytest.mark.stack
T = 30.0


def joint_cmd(q, gripper=0.5):
    msg = ArmCommand()
    msg.mode = ArmCommand.MODE_JOINT_POSITION
    msg.joint_positions = [float(v) for v in q]
    msg.gripper = gripper
    return msg


def ee_cmd(*delta, gripper=0.5):
    msg = ArmCommand()
    msg.mode = ArmCommand.MODE_END_EFFECTOR_DELTA
    msg.ee_delta = [float(v) for v in delta] + [0.0] * (6 - len(delta))
    msg.gripper = gripper
    return msg


def test_arm_gate_streams_limited_steps_and_holds_once_on_stale_joints(start_gate, driver):
    drv = driver('arm')
    start_gate('arm')
    drv.wait_connected()
    # Starts stopped (its one hold went out before anyone was listening).
    assert drv.state.wait(1, timeout=T).state == SafetyState.STATE_STOPPED
    time.sleep(0.3)
    assert all(m.mode == ArmCommand.MODE_HOLD for m in drv.out.messages)
    target = list(HOME_Q)
    target[0] = 10.0                                  # far beyond joint1's limit
    drv.cmd = joint_cmd(target, gripper=2.0)
    drv.out.wait(30, timeout=T, predicate=lambda m: m.mode == ArmCommand.MODE_JOINT_POSITION)
    streamed = [m for m in drv.out.messages if m.mode == ArmCommand.MODE_JOINT_POSITION]
    max_step = 3.14 * 0.5 / 50.0                      # joint1 velocity x scale / rate
    prev = HOME_Q[0]
    for m in streamed:
        assert len(m.joint_positions) == 7 and m.gripper == 1.0
        assert all(math.isfinite(v) for v in m.joint_positions)
        assert abs(m.joint_positions[0] - prev) <= max_step + 1e-9
        assert m.joint_positions[0] <= 3.1 - 0.1 + 1e-9
        prev = m.joint_positions[0]
    state = drv.state.wait(1, timeout=T, predicate=lambda s: s.reasons
                           & SafetyState.REASON_STEP_LIMITED)
    assert state.mode == SafetyState.MODE_ARM and state.state == SafetyState.STATE_LIMITED
    # The arm driver dies: exactly one MODE_HOLD (a routine stop: never the driver's hard
    # stop), then the gate stops streaming.
    drv.sensors_on = False
    drv.state.wait(1, timeout=T, predicate=lambda s: s.reasons
                   & SafetyState.REASON_JOINT_STATE_TIMEOUT)
    time.sleep(1.0)
    msgs = drv.out.messages
    last_motion = max(i for i, m in enumerate(msgs) if m.mode != ArmCommand.MODE_HOLD)
    after = msgs[last_motion + 1:]
    assert [m.mode for m in after] == [ArmCommand.MODE_HOLD]
    assert drv.state.last.arm_cmd_sent.mode == ArmCommand.MODE_HOLD
    assert all(m.mode != ArmCommand.MODE_STOP for m in msgs)


def test_arm_estop_sends_stop_and_ee_deltas_are_limited(start_gate, driver):
    drv = driver('arm')
    start_gate('arm')
    drv.wait_connected()
    drv.cmd = ee_cmd(0.05, 0.0, 0.0)                   # 5 cm per command: capped at 0.5 cm
    # Deltas flow (the gate's publisher has matched ours: an output sent before that match
    # is not seen here). Each delta's cap is the share of 0.5 cm that the time since the
    # previous one allows: after a pause longer than a command period the next gets it all.
    drv.out.wait(1, timeout=T, predicate=lambda m: m.mode == ArmCommand.MODE_END_EFFECTOR_DELTA)
    assert all(abs(m.ee_delta[0]) <= 0.005 + 1e-12 for m in drv.out.messages)
    drv.cmd = None
    time.sleep(0.3)                                    # > 1 / command_rate (10 Hz)
    drv.out.clear()
    drv.cmd = ee_cmd(0.05, 0.0, 0.0)
    m = drv.out.wait(1, timeout=T,
                     predicate=lambda m: m.mode == ArmCommand.MODE_END_EFFECTOR_DELTA)
    assert m.ee_delta[0] == pytest.approx(0.005)
    drv.out.clear()
    drv.estop(True)
    drv.out.wait(1, timeout=T, predicate=lambda m: m.mode == ArmCommand.MODE_STOP)
    drv.state.wait(1, timeout=T, predicate=lambda s: s.state == SafetyState.STATE_ESTOP)
    time.sleep(0.5)
    first_stop = next(i for i, m in enumerate(drv.out.messages)
                      if m.mode == ArmCommand.MODE_STOP)
    assert len(drv.out.messages) == first_stop + 1     # one stop, then silence
    assert not drv.call('reset_estop').success
    drv.cmd = ee_cmd()                                 # zero delta
    time.sleep(0.8)
    assert drv.call('reset_estop').success
    drv.cmd = ee_cmd(0.0, 0.0, -0.002)
    drv.out.wait(1, timeout=T, predicate=lambda m: m.mode == ArmCommand.MODE_END_EFFECTOR_DELTA
                 and m.ee_delta[2] == pytest.approx(-0.002))


def test_end_effector_deltas_are_gated_on_arrival_not_on_the_next_tick(start_gate, driver):
    """publish_on_input: each delta goes out when it arrives, one output per command (a
    5 Hz timer would sum the 20 Hz commands into a quarter as many outputs)."""
    drv = driver('arm', rate=20.0)
    start_gate('arm', {'rate': 5.0})
    drv.wait_connected()
    drv.cmd = ee_cmd(0.0, 0.001, 0.0)
    drv.out.wait(1, timeout=T, predicate=lambda m: m.mode == ArmCommand.MODE_END_EFFECTOR_DELTA)
    drv.out.clear()
    drv.out.wait(20, timeout=T,
                 predicate=lambda m: m.mode == ArmCommand.MODE_END_EFFECTOR_DELTA)
    deltas = [m.ee_delta[1] for m in drv.out.messages
              if m.mode == ArmCommand.MODE_END_EFFECTOR_DELTA]
    # One output per command: never the sum of several (a tick would carry 4 x 1 mm); the
    # per-command cap at 10 Hz scales a 20 Hz command's step to half of 5 mm, above 1 mm.
    assert max(deltas) == pytest.approx(0.001, abs=1e-9), deltas
    drv.cmd = None
