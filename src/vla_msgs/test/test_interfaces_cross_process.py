"""Every vla_msgs interface round-trips between two processes over DDS.

A child process subscribes to one topic per message type and publishes what it received on
`<topic>/echo`; it also serves both service types. The parent publishes fully populated
samples (Korean text, bounded and unbounded arrays, nested messages) and checks that what
comes back equals what it sent, field by field.
"""

import math

import pytest
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from vla_msgs.msg import (ActionChunk, ArmCommand, AudioChunk, EpisodeResult, Instruction,
                          PolicyStatus, SafetyState)
from vla_msgs.srv import Estop, StartEpisode
from vla_testing.ros import call_service, MessageCollector, wait_for_subscribers

ECHO_NODE = r'''
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy, DurabilityPolicy
from vla_msgs import msg as m, srv as s

rclpy.init()
node = rclpy.create_node('vla_msgs_echo')
qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                 durability=DurabilityPolicy.TRANSIENT_LOCAL)
keep = []
for name in ['Instruction', 'AudioChunk', 'ArmCommand', 'ActionChunk', 'PolicyStatus',
             'SafetyState', 'EpisodeResult']:
    cls = getattr(m, name)
    pub = node.create_publisher(cls, 'rt/' + name.lower() + '/echo', qos)
    keep.append(pub)
    keep.append(node.create_subscription(cls, 'rt/' + name.lower(),
                                         lambda msg, pub=pub: pub.publish(msg), qos))

def estop(req, resp):
    resp.success = req.reason.startswith('ok')
    resp.message = 'echo:' + req.reason
    return resp

def start(req, resp):
    resp.success = True
    resp.message = f'{req.scenario}#{req.seed}'
    return resp

keep.append(node.create_service(s.Estop, 'rt/estop', estop))
keep.append(node.create_service(s.StartEpisode, 'rt/start_episode', start))
node.get_logger().info('echo ready')
try:
    rclpy.spin(node)
except KeyboardInterrupt:
    pass
finally:
    node.destroy_node()
    rclpy.try_shutdown()
'''

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                 durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _samples():
    ins = Instruction()
    ins.header.stamp.sec = 12
    ins.header.frame_id = 'operator'
    ins.id = 'ins-000042'
    ins.text = '박스를 왼쪽으로 돌아서 컵까지 가세요'
    ins.language = 'ko'
    ins.source = Instruction.SOURCE_VOICE
    ins.status = Instruction.STATUS_UNDERSTOOD
    ins.canonical = 'go around the box on the left to the cup'
    ins.task = '1box_vert_left'
    ins.target_object = 'cup'
    ins.obstacle_count = 1
    ins.side = Instruction.SIDE_LEFT
    ins.maneuver = 'around'
    ins.confidence = 0.875

    audio = AudioChunk()
    audio.sample_rate = 16000
    audio.channels = 1
    audio.encoding = AudioChunk.ENCODING_S16LE
    audio.data = bytes(range(256)) * 4

    arm = ArmCommand()
    arm.mode = ArmCommand.MODE_JOINT_POSITION
    arm.ee_delta = [0.01, -0.02, 0.03, 0.1, -0.2, 0.3]
    arm.joint_positions = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    arm.gripper = 1.0

    chunk = ActionChunk()
    chunk.action_space = ActionChunk.ACTION_SPACE_BASE
    chunk.instruction_id = 'ins-000042'
    chunk.dt = 0.1
    chunk.steps = 2
    chunk.dims = 3
    chunk.data = [0.1, 0.0, 0.2, 0.15, -0.05, 0.0]
    chunk.first_step_index = 7

    status = PolicyStatus()
    status.state = PolicyStatus.STATE_RUNNING
    status.backend = 'robovlms'
    status.model_id = 'nano-lstm'
    status.action_space = 'base'
    status.last_trigger = PolicyStatus.TRIGGER_QUEUE_LOW
    status.latency_last_ms = 12.5
    status.latency_p50_ms = 11.0
    status.latency_p95_ms = 20.0
    status.queue_depth = 4
    status.inference_count = 2 ** 40
    status.trigger_counts_queue_low = 3
    status.instruction_id = 'ins-000042'

    safety = SafetyState()
    safety.mode = SafetyState.MODE_BASE
    safety.state = SafetyState.STATE_ESTOP
    safety.reasons = SafetyState.REASON_ESTOP | SafetyState.REASON_COMMAND_TIMEOUT
    safety.reason_names = ['ESTOP', 'COMMAND_TIMEOUT']
    safety.command_age = 0.3
    safety.estop_reason = 'instruction_node: 멈춰'
    safety.interventions = 5
    safety.cmd_vel_sent.linear.x = 0.25
    safety.arm_cmd_sent.mode = ArmCommand.MODE_STOP

    episode = EpisodeResult()
    episode.scenario = '2box_hori_right'
    episode.seed = 7
    episode.outcome = EpisodeResult.OUTCOME_REACHED
    episode.time = 14.2
    episode.path_length = 3.1
    episode.min_clearance = 0.12
    episode.passed_side = EpisodeResult.SIDE_RIGHT
    episode.passed_sides = [EpisodeResult.SIDE_RIGHT, EpisodeResult.SIDE_LEFT]
    episode.commanded_side = EpisodeResult.SIDE_RIGHT
    episode.ended_by = EpisodeResult.ENDED_BY_POLICY
    episode.at_rest = True
    episode.final_distance = 0.33
    episode.final_error = 0.03
    episode.task_start = 25.5
    episode.perturbation = 'box_moved'
    episode.perturbation_time = 4.0
    return [ins, audio, arm, chunk, status, safety, episode]


def _assert_same(sent, got):
    for field in sent.get_fields_and_field_types():
        a, b = getattr(sent, field), getattr(got, field)
        if hasattr(a, 'get_fields_and_field_types'):
            _assert_same(a, b)
        elif isinstance(a, float):
            assert math.isclose(a, b, rel_tol=1e-6), field
        elif hasattr(a, 'tolist') or isinstance(a, (list, tuple)):
            a_list, b_list = list(a), list(b)
            assert len(a_list) == len(b_list), field
            for x, y in zip(a_list, b_list):
                if isinstance(x, str):
                    assert x == y, field
                else:
                    assert float(x) == pytest.approx(float(y), rel=1e-6), field
        else:
            assert a == b, field


@pytest.mark.stack
def test_every_interface_round_trips_between_processes(ros, node_processes):
    echo = node_processes.python(ECHO_NODE, 'vla_msgs_echo')
    echo.wait_for_output('echo ready', timeout=30)
    node = ros.create_node('vla_msgs_sender')

    samples = _samples()
    collectors, publishers = [], []
    for sample in samples:
        topic = 'rt/' + type(sample).__name__.lower()
        collectors.append(MessageCollector(node, type(sample), topic + '/echo', QOS))
        publishers.append(node.create_publisher(type(sample), topic, QOS))
    for pub in publishers:
        wait_for_subscribers(pub, 1, timeout=20)
    for pub, sample in zip(publishers, samples):
        pub.publish(sample)
    for collector, sample in zip(collectors, samples):
        got = collector.wait(1, timeout=20)
        _assert_same(sample, got)

    ok = call_service(node, Estop, 'rt/estop', Estop.Request(reason='ok: 정지'), timeout=20)
    assert ok.success and ok.message == 'echo:ok: 정지'
    refused = call_service(node, Estop, 'rt/estop', Estop.Request(reason='nope'), timeout=20)
    assert not refused.success
    started = call_service(node, StartEpisode, 'rt/start_episode',
                           StartEpisode.Request(scenario='1box_vert_left', seed=3), timeout=20)
    assert started.success and started.message == '1box_vert_left#3'


def test_constants_are_distinct_bits():
    bits = [getattr(SafetyState, n) for n in dir(SafetyState)
            if n.startswith('REASON_') and n != 'REASON_NONE']
    assert len(bits) == len(set(bits))
    for b in bits:
        assert b & (b - 1) == 0, 'every reason is a single bit'
