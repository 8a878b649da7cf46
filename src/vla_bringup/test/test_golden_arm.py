"""The arm's golden bags (test/golden_arm, made by `make_golden_bags --robot arm`): real rosbag2
files whose recorded outputs obey the arm's safety invariants, and whose inputs, replayed into
a freshly started arm policy + arm safety gate, give outputs that obey them too:

* every gated command is finite, of a known mode, its gripper in [0, 1];
* an end-effector delta moves at most the step cap per axis (m / rad per command at the
  policy's rate)
  and keeps the tool point (forward kinematics of the newest joint states + the tool offset)
  inside the workspace box;
* only the e-stop sends MODE_STOP, exactly once; every other stop is MODE_HOLD, and after a
  fault no motion goes out beyond its timeout;
* the deterministic fixture policy reproduces its recorded first chunk offline.
Limits are read from the parameter files the stack starts with, not restated here.
"""

import math
import pathlib

import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, JointState
from vla_bringup.bags import read_bag
from vla_bringup.golden import golden_set, missing_records
from vla_bringup.replay import ARM_OUTPUT_TOPICS, arm_replay_stack, Captured, ReplayHarness
from vla_bringup.stacks import resolved_parameters
from vla_common.arm_models import arm_model, Kinematics
from vla_msgs.msg import ActionChunk, ArmCommand, Instruction, SafetyState

GOLDEN = pathlib.Path(__file__).parent / 'golden_arm'
META, BAGS, MODEL = golden_set(GOLDEN, '../fixtures/golden_arm_policy')
GATE = resolved_parameters(arm_replay_stack(MODEL).node('safety_gate'))
STEP = float(GATE['arm.max_translation_step'])
ROT_STEP = float(GATE['arm.max_rotation_step'])
BOX = (np.array(GATE['arm.workspace_min']), np.array(GATE['arm.workspace_max']))
TOOL = np.array(GATE['arm.tool_offset'])
KIN = Kinematics(arm_model(GATE.get('arm.model', 'RM75')), tool_offset=TOOL)
TICK = 1.0 / float(GATE['rate'])
# Worst case from a fault to the last motion command (s of sim time) + 0.2 s for the 100 Hz
# clock and the capture: the policy holds when its image is stale, the gate when the command
# or the joint states are.
HOLD_WITHIN = {
    'camera_stops': 0.5 + float(GATE['command_timeout']) + TICK + 0.2,
    'joint_states_stop': float(GATE['joint_state_timeout']) + TICK + 0.2,
    'estop': TICK + 0.1,
}
MOTION = (ArmCommand.MODE_END_EFFECTOR_DELTA, ArmCommand.MODE_JOINT_POSITION)


def _joint_states(name):
    out = []
    for m in read_bag(str(GOLDEN / name), ['/joint_states']):
        js = deserialize_message(m.data, JointState)
        out.append((m.timestamp, dict(zip(js.name, js.position))))
    return out


def _tool_point(joints, names):
    return np.array(KIN.position([joints[n] for n in names]))


def check_invariants(name, captured, t0, latency_slack=0.0):
    meta = META['bags'][name]
    cmds = captured.decoded('/arm_cmd')
    assert cmds, f'{name}: the gate published nothing'
    names = [j.name for j in KIN.model.joints]
    states = _joint_states(name)
    stamps = [t for t, _ in states]
    for t, m in cmds:
        values = list(m.ee_delta) + list(m.joint_positions) + [m.gripper]
        assert all(math.isfinite(v) for v in values), f'{name}: non-finite output at {t}'
        assert m.mode in MOTION + (ArmCommand.MODE_HOLD, ArmCommand.MODE_STOP)
        assert 0.0 <= m.gripper <= 1.0
        if m.mode == ArmCommand.MODE_END_EFFECTOR_DELTA:
            d = np.array(m.ee_delta)
            # The caps are per axis (direction kept), docs/safety.md.
            assert np.max(np.abs(d[:3])) <= STEP + 1e-9, f'{name}: step {d[:3]} at {t}'
            assert np.max(np.abs(d[3:])) <= ROT_STEP + 1e-9
            i = int(np.searchsorted(stamps, t, side='right')) - 1
            if 0 <= i and not (meta['fault'] == 'joint_states_stop' and i == len(states) - 1):
                goal = _tool_point(states[i][1], names) + d[:3]
                # The gate clips against the newest joint states it had; the bag's may be one
                # sample (10 ms) newer: a tolerance of one step's worth of motion.
                assert np.all(goal >= BOX[0] - STEP) and np.all(goal <= BOX[1] + STEP), \
                    f'{name}: {goal} leaves the box at {t}'
    stops = [t for t, m in cmds if m.mode == ArmCommand.MODE_STOP]
    fault = meta['fault']
    assert len(stops) == (1 if fault == 'estop' else 0), f'{name}: MODE_STOP {len(stops)}x'
    if fault in HOLD_WITHIN:
        t_fault = t0 + int(meta['fault_at'] * 1e9)
        moving = [t for t, m in cmds if t >= t_fault and m.mode in MOTION]
        if moving:
            assert moving[-1] - t_fault <= (HOLD_WITHIN[fault] + latency_slack) * 1e9, \
                f'{name}: moving {(moving[-1] - t_fault) * 1e-9:.2f} s after the {fault}'
        after = [m.mode for t, m in cmds if t >= t_fault and m.mode not in MOTION]
        assert after, f'{name}: no stop after the {fault}'
        if fault != 'estop':
            assert after[0] == ArmCommand.MODE_HOLD, f'{name}: a routine fault must HOLD'
    if fault == 'nan_burst':
        states = [s for _, s in captured.decoded('/safety_gate/state')]
        assert any(s.reasons & SafetyState.REASON_NON_FINITE for s in states), \
            'the NaN burst was seen and reported'


def _t0(name):
    return next(read_bag(str(GOLDEN / name))).timestamp


def test_golden_arm_set_is_complete():
    assert len([b for b in BAGS if b.startswith('nominal_')]) == 4
    assert {b for b in BAGS if b.startswith('fault_')} == {
        'fault_camera_stops', 'fault_joint_states_stop', 'fault_nan_burst', 'fault_estop'}


@pytest.mark.parametrize('name', BAGS)
def test_golden_arm_bag_has_inputs_and_outputs(name):
    assert not missing_records(GOLDEN / name, (
        '/clock', '/joint_states', '/instruction', '/arm_cmd', '/arm_cmd_in',
        '/safety_gate/state', '/policy_node/action_chunk'))


@pytest.mark.parametrize('name', BAGS)
def test_recorded_arm_outputs_obey_the_safety_invariants(name):
    check_invariants(name, Captured.recorded(str(GOLDEN / name), ARM_OUTPUT_TOPICS), _t0(name))


@pytest.mark.stack
@pytest.mark.slow
@pytest.mark.flaky(reruns=2)
@pytest.mark.parametrize('name', ['nominal_blue_block_tray', 'fault_joint_states_stop',
                                  'fault_estop'])
def test_arm_replay_into_a_fresh_stack_obeys_the_safety_invariants(name, ros_domain):
    captured = ReplayHarness(str(GOLDEN / name), arm_replay_stack(MODEL),
                             outputs=ARM_OUTPUT_TOPICS).run()
    check_invariants(name, captured, _t0(name), latency_slack=0.5)
    assert captured.decoded('/policy_node/action_chunk'), 'the policy acted on the bag'


@pytest.mark.parametrize('name', [b for b in BAGS if b.startswith('nominal_')])
def test_deterministic_arm_model_reproduces_the_recorded_first_chunk(name):
    """The instruction-triggered chunk depends on one frame and the joint states then."""
    from vla_common.image import compressed_to_rgb
    from vla_policy_node.policies import load_policy, Observation

    chunks = list(read_bag(str(GOLDEN / name), ['/policy_node/action_chunk']))
    assert chunks, f'{name}: no recorded action chunk'
    chunk = deserialize_message(chunks[0].data, ActionChunk)
    stamp = chunk.header.stamp.sec * 10 ** 9 + chunk.header.stamp.nanosec
    frames = {}
    for m in read_bag(str(GOLDEN / name), ['/camera/image_raw/compressed']):
        img = deserialize_message(m.data, CompressedImage)
        frames[img.header.stamp.sec * 10 ** 9 + img.header.stamp.nanosec] = img
    assert stamp in frames, 'the chunk names the frame it was computed from'
    ins = deserialize_message(next(read_bag(str(GOLDEN / name), ['/instruction'])).data,
                              Instruction)
    # The node's state is the newest joint_states it had received at the frame.
    states = [(deserialize_message(m.data, JointState)) for m in
              read_bag(str(GOLDEN / name), ['/joint_states'])]
    before = [s for s in states if s.header.stamp.sec * 10 ** 9 + s.header.stamp.nanosec
              <= stamp]
    policy = load_policy(MODEL)
    recorded = np.asarray(chunk.data, dtype=np.float32).reshape(chunk.steps, chunk.dims)

    def error(state):
        policy.reset()
        got = policy.predict_action_chunk(Observation(
            compressed_to_rgb(frames[stamp]), ins.text, canonical=ins.canonical,
            state=np.asarray(state.position, dtype=np.float64)))
        return float(np.abs(got - recorded).max())

    # The node may have had the state of the frame's tick or one just before it.
    best = min(error(s) for s in before[-3:])
    assert best <= 2e-3, best
