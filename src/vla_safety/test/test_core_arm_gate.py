"""ArmGate and the arm limits: EE steps at the command rate, workspace box, joint limits and
steps, faults (hold) and the e-stop (the driver's hard stop), every arm model."""

import math

import pytest
from vla_common.arm_models import arm_model
from vla_safety.core.arm import (box_excess, clamp_gripper, clamp_joints, clip_delta_to_box,
                                 limit_ee_step, rate_scaled_step, step_joints)
from vla_safety.core.gate import (ARM_MODE_EE_DELTA, ARM_MODE_HOLD, ARM_MODE_JOINT_POSITION,
                                  ARM_MODE_STOP, ArmInput)
from vla_safety.core.kinematics import ForwardKinematics
from vla_safety.core.reasons import GateState, Reason

LO, HI = (-0.5, -0.5, 0.0), (0.5, 0.5, 0.3)


def ee(*delta, gripper=0.5):
    return ArmInput(ARM_MODE_EE_DELTA, tuple(delta) + (0.0,) * (6 - len(delta)), (), gripper)


def joints(q, gripper=0.5):
    return ArmInput(ARM_MODE_JOINT_POSITION, (0.0,) * 6, tuple(q), gripper)


# --- pure functions -----------------------------------------------------------------------------
def test_rm75_forward_kinematics_matches_the_urdf_geometry():
    fk = ForwardKinematics('RM75')
    assert fk.position([0.0] * 7) == pytest.approx((0.0, 0.0, 0.2405 + 0.256 + 0.21 + 0.144))
    x, y, z = fk.position([0.0, math.pi / 2, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert (x, y, z) == pytest.approx((0.61, 0.0, 0.2405), abs=1e-4)   # stretched forward
    x, y, z = fk.position([math.pi / 2, math.pi / 2, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert (x, y, z) == pytest.approx((0.0, 0.61, 0.2405), abs=1e-4)   # joint1 is yaw
    tool = ForwardKinematics('RM75', (0.0, 0.0, 0.1))
    assert tool.position([0.0] * 7)[2] == pytest.approx(0.9505)


def test_ee_step_limits_keep_direction():
    d, limited = limit_ee_step([0.02, 0.01, 0.0, 0.1, 0.0, -0.05], 0.005, 0.02)
    assert limited
    assert d[:3] == pytest.approx((0.005, 0.0025, 0.0))
    assert d[3:] == pytest.approx((0.02, 0.0, -0.01))
    d, limited = limit_ee_step([0.001, 0.0, 0.0, 0.0, 0.0, 0.0], 0.005, 0.02)
    assert not limited


def test_step_caps_are_per_command_at_the_policy_rate():
    # 5 mm per command at 10 Hz is 5 cm/s: a delta 50 ms after the last gets half a step.
    assert rate_scaled_step(0.005, 0.1, 10.0) == pytest.approx(0.005)
    assert rate_scaled_step(0.005, 0.05, 10.0) == pytest.approx(0.0025)
    assert rate_scaled_step(0.005, 1.0, 10.0) == pytest.approx(0.005)      # never more
    assert rate_scaled_step(0.005, -0.1, 10.0) == 0.0                      # clock jumps back


def test_workspace_clip_per_axis():
    d, boxed = clip_delta_to_box((0.48, 0.0, 0.1), (0.05, 0.01, -0.2), LO, HI)
    assert boxed and d == pytest.approx((0.02, 0.01, -0.1))
    d, boxed = clip_delta_to_box((0.6, 0.0, 0.5), (-0.05, 0.0, 0.01), LO, HI)
    assert boxed and d == pytest.approx((-0.05, 0.0, 0.0))    # outside: only back in
    d, boxed = clip_delta_to_box((0.0, 0.0, 0.1), (0.01, 0.01, 0.01), LO, HI)
    assert not boxed
    assert box_excess((0.6, 0.0, 0.4), LO, HI) == pytest.approx(math.hypot(0.1, 0.1))
    assert box_excess((0.0, 0.0, 0.1), LO, HI) == 0.0


def test_joint_clamp_and_step():
    q, limited = clamp_joints([3.2, -3.0, 0.0], [-3.1] * 3, [3.1] * 3, 0.1)
    assert limited and q == pytest.approx((3.0, -3.0, 0.0))
    q, stepped = step_joints([1.0, 0.1], [0.0, 0.0], [0.1, 0.1])
    assert stepped and q == pytest.approx((0.1, 0.01))          # straight line in joint space
    q, stepped = step_joints([0.05, 0.0], [0.0, 0.0], [0.1, 0.1])
    assert not stepped and q == (0.05, 0.0)


def test_gripper_clamp():
    assert clamp_gripper(1.5) == (1.0, True)
    assert clamp_gripper(-0.1) == (0.0, True)
    assert clamp_gripper(0.3) == (0.3, False)


# --- the gate -----------------------------------------------------------------------------------
def test_starts_stopped_and_sends_one_hold(make_arm):
    h = make_arm()
    d = h.gate.step(0.0)
    assert d.output is not None and d.output.mode == ARM_MODE_HOLD
    assert d.reasons == Reason.NO_COMMAND | Reason.JOINT_STATE_TIMEOUT | Reason.HEARTBEAT_LOST
    assert h.gate.step(0.02).output is None       # then it stops streaming


def test_ee_delta_is_step_limited_and_sent_once(make_arm):
    h = make_arm()
    d = h.send(0.0, ee(0.02, 0.0, 0.0, 0.0, 0.0, 0.1, gripper=0.7))
    assert d.output.mode == ARM_MODE_EE_DELTA
    assert d.output.ee_delta == pytest.approx((0.005, 0.0, 0.0, 0.0, 0.0, 0.02))
    assert d.output.gripper == pytest.approx(0.7)
    assert d.reasons == Reason.STEP_LIMITED and d.state == GateState.LIMITED
    h.sensors(0.02)
    assert h.gate.step(0.02).output is None      # nothing new: nothing sent (no repeat)


def test_ee_speed_is_capped_however_often_deltas_come(make_arm):
    """The policy's unit is metres per control tick (10 Hz): 1 cm deltas at 10 Hz are 0.1 m/s;
    the same deltas at 50 Hz may not make the arm five times faster."""
    h = make_arm(**{'arm.max_translation_step': 0.01})
    sent = [h.send(i * 0.1, ee(0.01)).output.ee_delta[0] for i in range(10)]
    assert sum(sent) == pytest.approx(0.1)              # 10 commands in 1 s: 0.1 m/s
    h = make_arm(**{'arm.max_translation_step': 0.01})
    fast = [h.send(i * 0.02, ee(0.01)).output.ee_delta[0] for i in range(50)]
    assert sum(fast) <= 0.1 + 0.01 + 1e-9               # 50 commands in 1 s: still ~0.1 m/s
    assert max(fast[1:]) == pytest.approx(0.002)        # a fifth of a step each


def test_ee_deltas_between_ticks_are_summed(make_arm):
    h = make_arm()
    h.send(0.0, ee(0.001), step=False)
    h.send(0.005, ee(0.002), step=False)
    d = h.gate.step(0.01)
    assert d.output.ee_delta[0] == pytest.approx(0.003) and d.reasons == Reason.NONE


def test_ee_delta_kept_in_the_workspace_box(make_arm, home_q):
    h = make_arm(**{'arm.max_translation_step': 0.01})
    z = ForwardKinematics('RM75').position(home_q)[2]            # ~0.128 m
    d = h.send(0.0, ee(0.0, 0.0, -0.01))
    assert d.output.ee_delta[2] == pytest.approx(-0.01)
    h.q = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)                    # arm upright: z = 0.85 m
    d = h.send(0.1, ee(0.0, 0.0, 0.01))
    assert d.output.ee_delta[2] == 0.0 and d.reasons & Reason.WORKSPACE
    d = h.send(0.2, ee(0.0, 0.0, -0.01))                         # moving back in is fine
    assert d.output.ee_delta[2] == pytest.approx(-0.01)
    assert z < 0.3


def test_gripper_is_clamped(make_arm):
    h = make_arm()
    d = h.send(0.0, ee(gripper=3.0))
    assert d.output.gripper == 1.0 and d.intervened


def test_joint_target_streams_with_step_limit_and_margin(make_arm, home_q):
    h = make_arm()
    target = list(home_q)
    target[0] = 5.0                                  # beyond joint1's 3.1 rad limit
    max_step = 3.14 * 0.5 * 0.02                     # velocity * scale * period
    d = h.send(0.0, joints(target))
    assert d.output.mode == ARM_MODE_JOINT_POSITION
    assert d.output.joint_positions[0] == pytest.approx(max_step)
    assert d.reasons == Reason.JOINT_LIMIT | Reason.STEP_LIMITED
    q = d.output.joint_positions
    for i in range(1, 400):                           # streamed every tick while fresh
        t = i * 0.02
        h.send(t, joints(target), step=False)
        d = h.gate.step(t)
        assert abs(d.output.joint_positions[0] - q[0]) <= max_step + 1e-12
        q = d.output.joint_positions
    assert q[0] == pytest.approx(3.1 - 0.1)          # settles at the limit minus the margin
    assert d.reasons == Reason.JOINT_LIMIT


def test_joint_target_that_leaves_the_workspace_is_held(make_arm):
    h = make_arm()
    fk = ForwardKinematics('RM75')
    target = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)      # upright: far above z = 0.3
    held = []
    for i in range(100):
        d = h.send(i * 0.02, joints(target), step=False)
        d = h.gate.step(i * 0.02)
        assert box_excess(fk.position(d.output.joint_positions), LO, HI) == 0.0
        if d.reasons & Reason.WORKSPACE:
            held.append(d.output.joint_positions)
    assert len(held) > 10 and all(q == held[0] for q in held)   # stopped at the box and held


def test_invalid_and_non_finite_commands_hold(make_arm, home_q):
    h = make_arm()
    h.send(0.0, ee(0.001))
    d = h.send(0.02, ArmInput(ARM_MODE_JOINT_POSITION, (0.0,) * 6, (0.0,) * 6, 0.5))
    assert d.reasons & Reason.INVALID_COMMAND and d.output.mode == ARM_MODE_HOLD
    d = h.send(0.04, ArmInput(7, (0.0,) * 6, (), 0.5))
    assert d.reasons & Reason.INVALID_COMMAND and d.output is None   # already holding
    d = h.send(0.06, ee(0.001))
    assert d.output.mode == ARM_MODE_EE_DELTA
    d = h.send(0.08, ee(math.nan))
    assert d.reasons & Reason.NON_FINITE and d.output.mode == ARM_MODE_HOLD
    d = h.send(0.10, joints(list(home_q[:6]) + [math.inf]))
    assert d.reasons & Reason.NON_FINITE


def test_stale_joint_states_send_one_hold_then_nothing(make_arm, home_q):
    h = make_arm()
    h.send(0.0, joints(home_q))
    for t in (0.1, 0.2):
        h.gate.on_heartbeat(t)
        h.gate.on_command(joints(home_q), t)
        assert h.gate.step(t).output.mode == ARM_MODE_JOINT_POSITION
    h.gate.on_heartbeat(0.3)
    h.gate.on_command(joints(home_q), 0.3)
    d = h.gate.step(0.3)                       # joint states last at 0.0: stale (0.25 s)
    assert d.reasons == Reason.JOINT_STATE_TIMEOUT and d.output.mode == ARM_MODE_HOLD
    h.gate.on_command(joints(home_q), 0.32)
    assert h.gate.step(0.32).output is None


def test_incomplete_joint_states_are_dropped(make_arm):
    h = make_arm()
    assert not h.gate.on_joint_states(h.names[:6], [0.0] * 6, 0.0)
    assert not h.gate.on_joint_states(h.names, [0.0] * 6, 0.0)
    assert not h.gate.on_joint_states(h.names, [math.nan] + [0.0] * 6, 0.0)
    assert h.gate.on_joint_states(list(reversed(h.names)), list(range(7)), 0.0)
    assert h.gate._q == tuple(float(v) for v in reversed(range(7)))
    assert h.gate.joint_states_rejected == 3


@pytest.mark.parametrize('mode', [ARM_MODE_HOLD, ARM_MODE_STOP])
def test_the_policys_stop_is_forwarded_once_as_a_hold(make_arm, mode):
    """Only the e-stop may ask for the driver's hard stop, not the policy."""
    h = make_arm()
    h.send(0.0, ee(0.001))
    d = h.send(0.02, ArmInput(mode))
    assert d.output.mode == ARM_MODE_HOLD and d.state == GateState.OK
    h.sensors(0.04)
    assert h.gate.step(0.04).output is None


def test_estop_then_reset_with_arm_zero_rules(make_arm, home_q):
    h = make_arm()
    h.send(0.0, ee(0.002))
    h.gate.engage_estop('operator', 0.01)
    d = h.gate.step(0.01)
    assert d.state == GateState.ESTOP and d.output.mode == ARM_MODE_STOP   # the hard stop
    assert h.gate.step(0.012).output is None                             # once
    d = h.send(0.02, ee(0.002))
    assert d.output is None
    assert not h.gate.reset_estop(0.1)[0]             # commanding motion
    # A joint target equal to the measured joints counts as zero (hold).
    for i in range(6, 40):
        h.send(i * 0.02, joints(home_q), step=False)
    ok, msg = h.gate.reset_estop(0.8)
    assert ok, msg
    d = h.gate.step(0.8)
    assert d.reasons & Reason.NO_COMMAND
    d = h.send(0.82, ee(0.002))
    assert d.output.mode == ARM_MODE_EE_DELTA and d.state == GateState.OK


def test_command_timeout_holds_and_a_new_fault_after_recovery_holds_again(make_arm):
    h = make_arm()
    h.send(0.0, ee(0.001))
    h.sensors(0.5)
    d = h.gate.step(0.5)
    assert d.reasons == Reason.COMMAND_TIMEOUT and d.output.mode == ARM_MODE_HOLD
    h.send(0.52, ee(0.001))                                      # recovered
    h.sensors(0.9)
    assert h.gate.step(0.9).output.mode == ARM_MODE_HOLD       # timed out again: new hold


def test_a_hold_escalates_to_the_hard_stop_on_the_estop(make_arm):
    h = make_arm()
    h.send(0.0, ee(0.001))
    h.sensors(0.5)
    assert h.gate.step(0.5).output.mode == ARM_MODE_HOLD       # command timeout
    h.gate.engage_estop('operator', 0.52)
    h.sensors(0.52)
    assert h.gate.step(0.52).output.mode == ARM_MODE_STOP
    h.sensors(0.54)
    assert h.gate.step(0.54).output is None


@pytest.mark.parametrize('model, dof', [('RM65', 6), ('RM75', 7), ('GEN72', 7)])
def test_every_arm_model_gates_its_own_joints(make_arm, model, dof):
    h = make_arm(**{'arm.model': model, 'arm.workspace_min': [-2.0, -2.0, -2.0],
                    'arm.workspace_max': [2.0, 2.0, 2.0]})
    arm = arm_model(model)
    assert h.names == [f'joint{i}' for i in range(1, dof + 1)]
    six = [f'joint{i}' for i in range(1, 7)]
    assert h.gate.on_joint_states(six, [0.1] * 6, 0.0) == (dof == 6)   # RM65's state only
    h.q = tuple(0.5 * (lo + hi) + 0.2 for lo, hi in zip(arm.lower, arm.upper))
    target = list(h.q)
    target[3] = 10.0                              # far beyond joint 4's upper limit
    for i in range(400):
        h.send(i * 0.02, joints(target), step=False)
        d = h.gate.step(i * 0.02)
    out = d.output.joint_positions
    assert len(out) == dof and d.reasons & Reason.JOINT_LIMIT
    assert out[3] == pytest.approx(arm.upper[3] - 0.1)   # the table's limit minus the margin
