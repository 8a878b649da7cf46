"""Golden bags (test/golden, made by `make_golden_bags`): they are real rosbag2 files, their
recorded outputs obey the safety invariants, and replaying their inputs into a freshly started
policy + safety gate gives outputs that obey them too — never above the limits, never
non-finite, zero within the timeout of every fault — while the deterministic fixture policy
reproduces its recorded first action chunk (within 2e-3)."""

import math
import pathlib

import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage
from vla_bringup.bags import read_bag
from vla_bringup.golden import golden_set, missing_records
from vla_bringup.replay import Captured, OUTPUT_TOPICS, ReplayHarness, replay_stack
from vla_msgs.msg import ActionChunk, Instruction, SafetyState

GOLDEN = pathlib.Path(__file__).parent / 'golden'
META, BAGS, MODEL = golden_set(GOLDEN, '../fixtures/golden_policy')
LIMITS = {'x': 0.5, 'y': 0.5, 'yaw': 1.0, 'planar': 0.5}
TICK = 0.02
# Worst-case time from a fault to zeros on cmd_vel (s of sim time), + 0.2 s slack for the
# 100 Hz clock and the capture.
ZERO_WITHIN = {
    'camera_stops': 0.5 + 0.25 + TICK + 0.2,   # image timeout, then command timeout
    'odom_stops': 0.5 + TICK + 0.2,            # odometry timeout
    'estop': TICK + 0.1,                       # engaged from the callback
}


def _t0(name):
    return next(read_bag(str(GOLDEN / name))).timestamp


def _is_zero(m):
    return (m.linear.x, m.linear.y, m.angular.z) == (0.0, 0.0, 0.0)


def check_invariants(name, captured, t0, latency_slack=0.0):
    meta = META['bags'][name]
    cmd = captured.decoded('/cmd_vel')
    assert len(cmd) > 20, f'{name}: the gate published too little'
    for t, m in cmd:
        vals = (m.linear.x, m.linear.y, m.angular.z)
        assert all(math.isfinite(v) for v in vals), f'{name}: non-finite output at {t}'
        assert abs(m.linear.x) <= LIMITS['x'] + 1e-9
        assert abs(m.linear.y) <= LIMITS['y'] + 1e-9
        assert abs(m.angular.z) <= LIMITS['yaw'] + 1e-9
        assert math.hypot(m.linear.x, m.linear.y) <= LIMITS['planar'] + 1e-6
        assert m.linear.z == m.angular.x == m.angular.y == 0.0
    fault = meta['fault']
    if fault in ZERO_WITHIN:
        t_fault = t0 + int(meta['fault_at'] * 1e9)
        after = [(t, m) for t, m in cmd if t >= t_fault]
        assert after and _is_zero(after[-1][1]), f'{name}: not stopped after the {fault}'
        moving = [t for t, m in after if not _is_zero(m)]
        # Small commands inside the deadband are zeros too, so the check is on the last
        # non-zero output. The deadline is in the capture's sim time; the stack's view of
        # /clock lags it by the transport latency: `latency_slack` s on top of the worst case.
        if moving:
            assert moving[-1] - t_fault <= (ZERO_WITHIN[fault] + latency_slack) * 1e9, \
                f'{name}: still moving {(moving[-1] - t_fault) * 1e-9:.2f} s after the {fault}'
        assert len(after) - len(moving) > 20, f'{name}: zeros keep coming after the {fault}'
    if fault == 'estop':
        states = [s for t, s in captured.decoded('/safety_gate/state')]
        assert any(s.state == SafetyState.STATE_ESTOP for s in states)
    if fault == 'nan_burst':
        states = [s for t, s in captured.decoded('/safety_gate/state')]
        assert any(s.reasons & SafetyState.REASON_NON_FINITE for s in states), \
            'the NaN burst was seen and reported'


def test_golden_set_is_complete():
    assert len([b for b in BAGS if b.startswith('nominal_')]) == 8
    assert {b for b in BAGS if b.startswith('fault_')} == {
        'fault_camera_stops', 'fault_odom_stops', 'fault_nan_burst', 'fault_estop'}


@pytest.mark.parametrize('name', BAGS)
def test_golden_bag_is_rosbag2_with_inputs_and_outputs(name):
    assert not missing_records(GOLDEN / name, ('/clock', '/odom', '/scan', '/instruction',
                                               '/cmd_vel', '/safety_gate/state'))


@pytest.mark.parametrize('name', BAGS)
def test_recorded_outputs_obey_the_safety_invariants(name):
    check_invariants(name, Captured.recorded(str(GOLDEN / name), OUTPUT_TOPICS), _t0(name))


@pytest.mark.stack
@pytest.mark.slow
@pytest.mark.flaky(reruns=2)
@pytest.mark.parametrize('name', ['nominal_1box_vert_left', 'nominal_2box_hori_right',
                                  'fault_camera_stops', 'fault_odom_stops',
                                  'fault_nan_burst', 'fault_estop'])
def test_replay_into_a_fresh_stack_obeys_the_safety_invariants(name, ros_domain):
    captured = ReplayHarness(str(GOLDEN / name), replay_stack(MODEL)).run()
    check_invariants(name, captured, _t0(name), latency_slack=0.5)
    if name.startswith('nominal'):
        assert captured.decoded('/policy_node/action_chunk'), 'the policy acted on the bag'


def _first_chunk(name):
    chunks = [m for m in read_bag(str(GOLDEN / name), ['/policy_node/action_chunk'])]
    assert chunks, f'{name}: no recorded action chunk'
    return deserialize_message(chunks[0].data, ActionChunk)


@pytest.mark.parametrize('name', [b for b in BAGS if b.startswith('nominal_')])
def test_deterministic_model_reproduces_the_recorded_first_chunk(name):
    """The instruction-triggered chunk depends on one frame: recompute it offline."""
    from vla_common.image import compressed_to_rgb
    from vla_policy_node.policies import load_policy, Observation

    chunk = _first_chunk(name)
    stamp = (chunk.header.stamp.sec, chunk.header.stamp.nanosec)
    frames = {}
    for m in read_bag(str(GOLDEN / name), ['/camera/image_raw/compressed']):
        img = deserialize_message(m.data, CompressedImage)
        frames[(img.header.stamp.sec, img.header.stamp.nanosec)] = img
    assert stamp in frames, 'the chunk names the frame it was computed from'
    ins = deserialize_message(next(read_bag(str(GOLDEN / name), ['/instruction'])).data,
                              Instruction)
    policy = load_policy(MODEL)
    policy.reset()
    got = policy.predict_action_chunk(Observation(compressed_to_rgb(frames[stamp]), ins.text,
                                                  canonical=ins.canonical))
    recorded = np.asarray(chunk.data, dtype=np.float32).reshape(chunk.steps, chunk.dims)
    # Measured: the recomputation is within 8e-4 of the node's chunk (0 for half the bags),
    # while the neighbouring frames give >= 4e-3: the tolerance tells the frames apart.
    np.testing.assert_allclose(got, recorded, atol=2e-3)
