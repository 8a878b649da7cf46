"""policy_node in its own process, driven over DDS by this test (real rclpy both sides)."""

from __future__ import annotations

import pathlib
import threading
import time
from typing import Any, List, Optional

import numpy as np
import pytest
from ament_index_python.packages import get_package_prefix
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from nav_msgs.msg import Odometry
from sensor_msgs.msg import CompressedImage, Image, JointState, LaserScan
from std_msgs.msg import Header
from vla_common.image import encode_compressed, fill_image
from vla_common.qos import LATCHED_QOS, SENSOR_QOS
from vla_msgs.msg import (ActionChunk, ArmCommand, Instruction, PolicyStatus, SafetyState,
                          TaskResult)
from scripted_policy import expected_chunk, frame, node_code
from vla_policy_node.policies.presets import LEFT, RIGHT, TINY_HEADS, TINY_NANO
from vla_testing.ros import call_service, MessageCollector, wait_for

pytestmark = pytest.mark.timeout(300)

EXE = pathlib.Path(get_package_prefix('vla_policy_node')) / 'lib' / 'vla_policy_node' / \
    'policy_node'
GATE = pathlib.Path(get_package_prefix('vla_safety')) / 'lib' / 'vla_safety' / 'safety_gate'
STARTUP = 60.0   # torch import + model load on a busy 2-core machine
# IDLE and active (IDLE 'node inactive' comes first: an instruction stamped then is refused)
ACTIVE = 'waiting for a new instruction'


# ------------------------------------------------------------------------------ helpers

def random_checkpoint(path: pathlib.Path, action_space: str = 'base', nan: bool = False,
                      **fields: Any) -> str:
    import torch
    from vla_policy_node.policies import make_policy

    torch.manual_seed(1)
    policy = make_policy(action_space, TINY_NANO, TINY_HEADS['lstm'], window_size=4,
                         chunk_size=10, **fields)
    if nan:
        with torch.no_grad():
            for p in policy.model.head.parameters():
                p.fill_(float('nan'))
    policy.save_pretrained(str(path))
    return str(path)


def ros_args(**params: Any) -> List[str]:
    args = ['--ros-args']
    for key, value in params.items():
        args += ['-p', f'{key}:={value}']
    return args


def start_policy(node_processes: Any, **params: Any) -> Any:
    params.setdefault('num_threads', 1)
    return node_processes([str(EXE), *ros_args(**params)], 'policy_node')


def start_scripted_policy(node_processes: Any, policy: Optional[dict] = None,
                          **params: Any) -> Any:
    """policy_node with a ScriptedPolicy(**policy) (scripted_policy.py), no checkpoint."""
    params.setdefault('model_path', 'scripted')
    return node_processes.python(node_code(**(policy or {})), 'policy_node',
                                 args=ros_args(**params))


class Camera:
    """Publishes `frame` (a static random scene) at `rate` Hz; stamps shifted by `age` s."""

    def __init__(self, node: Any, rate: float = 20.0, size=(48, 64),
                 compressed: bool = False) -> None:
        self.node = node
        self.compressed = compressed
        self.pub = node.create_publisher(CompressedImage if compressed else Image,
                                         'camera/image_raw/compressed' if compressed
                                         else 'camera/image_raw', SENSOR_QOS)
        self.rate = rate
        self.size = size
        self.age = 0.0
        self.encoding = 'rgb8'
        self.frame = self.scene(0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> 'Camera':
        self._thread.start()
        return self

    def scene(self, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.integers(0, 256, (*self.size, 3), dtype=np.uint8)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.compressed:
                msg = encode_compressed(CompressedImage(), self.frame, 'jpeg')
            else:
                msg = fill_image(Image(), self.frame)
                msg.encoding = self.encoding
            stamp_ns = self.node.get_clock().now().nanoseconds - int(self.age * 1e9)
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 10 ** 9)
            try:
                self.pub.publish(msg)
            except Exception:  # noqa: BLE001 - the context is going down
                return
            time.sleep(1.0 / self.rate)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)


class Harness:
    """The test's side of the graph: inputs published, outputs collected."""

    def __init__(self, ros: Any, action_space: str = 'base', compressed: bool = False) -> None:
        self.node = ros.create_node('policy_test_harness')
        self.sent_at: Optional[float] = None
        self.instruction = self.node.create_publisher(Instruction, 'instruction', LATCHED_QOS)
        self.results = MessageCollector(self.node, TaskResult, 'policy_node/task_result',
                                        LATCHED_QOS)
        self.safety = self.node.create_publisher(SafetyState, 'safety_gate/state', LATCHED_QOS)
        if action_space == 'base':
            self.cmds = MessageCollector(self.node, Twist, 'cmd_vel_in')
        else:
            self.cmds = MessageCollector(self.node, ArmCommand, 'arm_cmd_in')
        self.status = MessageCollector(self.node, PolicyStatus, 'policy_node/status')
        self.chunks = MessageCollector(self.node, ActionChunk, 'policy_node/action_chunk')
        self.heartbeat = MessageCollector(self.node, Header, 'heartbeat')
        self.camera = Camera(self.node, compressed=compressed)

    def wait_state(self, state: int, timeout: float = 20.0, text: str = '') -> PolicyStatus:
        """A status in `state` (with `text` in its error or detail) received after the last
        `send` (any, before the first): an old status must not answer for a new instruction."""
        return self.status.wait(1, timeout, lambda m: m.state == state and (
            text in m.error or text in m.detail), since=self.sent_at)

    def send(self, ins_id: str, text: str, status: int = Instruction.STATUS_UNDERSTOOD,
             canonical: str = '', reason: str = '') -> None:
        """An instruction as instruction_node gives it: stamped now (the node's clock)."""
        self.sent_at = time.monotonic()
        msg = Instruction(id=ins_id, text=text, language='ko', status=status,
                          canonical=canonical, confidence=1.0, reason=reason)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.instruction.publish(msg)

    def result(self, ins_id: str, timeout: float = 20.0) -> TaskResult:
        return self.results.wait(1, timeout, lambda m: m.instruction_id == ins_id)


@pytest.fixture
def harness(ros: Any) -> Any:
    h = Harness(ros)
    yield h
    h.camera.stop()


def vy(cmds: List[Twist]) -> np.ndarray:
    return np.array([c.linear.y for c in cmds])


# -------------------------------------------------------------------------------- tests

def test_instruction_produces_commands(node_processes, harness, left_right_checkpoint):
    start_policy(node_processes, model_path=left_right_checkpoint)
    idle = harness.wait_state(PolicyStatus.STATE_IDLE, STARTUP, ACTIVE)
    assert idle.model_id == 'left-right-test' and idle.backend == 'robovlms'
    assert idle.action_space == 'base'
    harness.camera.start()
    harness.send('ins-1', LEFT)
    # "left" moves left (+y). A zero between them is the node holding for a late camera
    # frame or chunk on a loaded machine (fail-safe), never a move the other way.
    harness.cmds.wait(5, timeout=30.0, predicate=lambda c: c.linear.y != 0.0)
    moves = [c for c in harness.cmds.messages if c.linear.y != 0.0][:5]
    assert np.all(vy(moves) > 0.1), vy(harness.cmds.messages)
    chunk = harness.chunks.wait(1, timeout=10.0)
    assert chunk.instruction_id == 'ins-1' and (chunk.steps, chunk.dims) == (10, 3)
    assert chunk.action_space == ActionChunk.ACTION_SPACE_BASE
    running = harness.wait_state(PolicyStatus.STATE_RUNNING, 10.0)
    assert running.instruction_id == 'ins-1' and running.trigger_counts_instruction == 1
    assert running.inference_count >= 1 and running.latency_p50_ms > 0
    harness.status.wait(1, 10.0, lambda m: m.trigger_counts_queue_low >= 1)  # refills
    assert harness.status.last.trigger_counts_scene_change == 0   # a static scene
    harness.camera.frame = harness.camera.scene(1)                # something moved
    harness.status.wait(1, 10.0, lambda m: m.trigger_counts_scene_change >= 1)
    harness.heartbeat.wait(3, timeout=10.0)
    debug = MessageCollector(harness.node, Image, 'policy_node/debug/image', SENSOR_QOS)
    frame = debug.wait(1, timeout=10.0)   # drawn only while someone subscribes
    assert frame.encoding == 'rgb8' and frame.width == 64
    diag = MessageCollector(harness.node, DiagnosticArray, '/diagnostics')
    diag.wait(1, 10.0, lambda m: any(s.name.startswith('policy_node') for s in m.status))


def test_new_instruction_flushes_the_queue(node_processes, harness, left_right_checkpoint):
    start_policy(node_processes, model_path=left_right_checkpoint, queue_threshold=3)
    harness.wait_state(PolicyStatus.STATE_IDLE, STARTUP, ACTIVE)
    harness.camera.start()
    harness.send('ins-left', LEFT)
    harness.cmds.wait(8, timeout=20.0, predicate=lambda m: m.linear.y > 0.1)
    harness.send('ins-right', RIGHT)
    harness.cmds.wait(8, timeout=20.0, predicate=lambda m: m.linear.y < -0.1)
    ys = vy(harness.cmds.messages)
    first_right = int(np.argmax(ys < -0.1))
    assert np.all(ys[first_right:] <= 0.0), 'an old-instruction command after the new one'
    assert np.any(ys[:first_right] > 0.1)
    ids = [c.instruction_id for c in harness.chunks.messages]
    first_b = ids.index('ins-right')
    assert 'ins-left' not in ids[first_b:]
    status = harness.status.wait(1, 10.0, lambda m: m.instruction_id == 'ins-right'
                                 and m.trigger_counts_instruction == 2)
    assert status.state == PolicyStatus.STATE_RUNNING
    preempted = harness.result('ins-left')
    assert preempted.result == TaskResult.RESULT_PREEMPTED and preempted.inference_count >= 1


def test_stale_and_bad_camera_give_no_commands(node_processes, harness, left_right_checkpoint):
    start_policy(node_processes, model_path=left_right_checkpoint, image_timeout=0.5)
    harness.wait_state(PolicyStatus.STATE_IDLE, STARTUP, ACTIVE)
    harness.camera.age = 5.0
    harness.camera.start()
    harness.send('ins-1', LEFT)
    harness.wait_state(PolicyStatus.STATE_PAUSED, 20.0, 'stale')
    time.sleep(2.0)
    assert len(harness.cmds) == 0 and len(harness.chunks) == 0
    harness.camera.encoding = 'yuv422'  # wrong encoding: an error, still no command
    harness.wait_state(PolicyStatus.STATE_ERROR, 20.0, 'encoding')
    time.sleep(1.0)
    assert len(harness.cmds) == 0
    harness.camera.encoding, harness.camera.age = 'rgb8', 0.0  # the camera recovers
    harness.cmds.wait(3, timeout=20.0)
    harness.camera.stop()      # ...and goes silent while running: one stop, then nothing
    harness.sent_at = time.monotonic()   # the PAUSED status of the first phase does not count
    harness.wait_state(PolicyStatus.STATE_PAUSED, 20.0, 'stale')
    time.sleep(0.5)
    count = len(harness.cmds)
    assert harness.cmds.last.linear.y == 0.0 and harness.cmds.last.linear.x == 0.0
    time.sleep(1.5)
    assert len(harness.cmds) == count


def test_nan_model_gives_no_command_and_an_error(node_processes, harness, tmp_path):
    start_policy(node_processes, model_path=random_checkpoint(tmp_path / 'nan', nan=True))
    harness.wait_state(PolicyStatus.STATE_IDLE, STARTUP, ACTIVE)
    harness.camera.start()
    harness.send('ins-1', LEFT)
    status = harness.wait_state(PolicyStatus.STATE_ERROR, 20.0, 'NaN')
    assert status.inference_count >= 1
    # retried after the back-off, still NaN, still nothing
    retried = harness.status.wait(1, 20.0, lambda m: m.inference_count >= 2)
    assert retried.state == PolicyStatus.STATE_ERROR
    assert len(harness.cmds) == 0 and len(harness.chunks) == 0
    assert harness.status.last.state == PolicyStatus.STATE_ERROR


def test_missing_model_path_is_an_error_until_set(node_processes, harness, ros, tmp_path):
    start_policy(node_processes)
    status = harness.wait_state(PolicyStatus.STATE_ERROR, STARTUP, 'model_path')
    assert status.inference_count == 0
    harness.camera.start()
    harness.send('ins-1', LEFT)
    time.sleep(2.0)
    assert len(harness.cmds) == 0
    assert harness.status.last.state == PolicyStatus.STATE_ERROR
    # a broken checkpoint: still an error, named
    param = Parameter(name='model_path', value=ParameterValue(
        type=ParameterType.PARAMETER_STRING, string_value=str(tmp_path / 'nowhere')))
    call_service(harness.node, SetParameters, 'policy_node/set_parameters',
                 SetParameters.Request(parameters=[param]), timeout=20.0)
    harness.wait_state(PolicyStatus.STATE_ERROR, 30.0, 'not found')
    # a real one: the node configures itself; the instruction given before it was active is
    # not executed (it waits for a new one), a new one is
    param.value.string_value = random_checkpoint(tmp_path / 'ok')
    call_service(harness.node, SetParameters, 'policy_node/set_parameters',
                 SetParameters.Request(parameters=[param]), timeout=20.0)
    harness.wait_state(PolicyStatus.STATE_IDLE, STARTUP, 'waiting for a new instruction')
    assert harness.result('ins-1').result == TaskResult.RESULT_REFUSED
    assert len(harness.cmds) == 0
    harness.send('ins-2', LEFT)
    harness.wait_state(PolicyStatus.STATE_RUNNING, 30.0)
    harness.cmds.wait(3, timeout=20.0)


def test_safety_pause_resume_estop_cancel_and_deactivate(node_processes, harness, tmp_path):
    start_policy(node_processes, model_path=random_checkpoint(tmp_path / 'ck'))
    harness.wait_state(PolicyStatus.STATE_IDLE, STARTUP, ACTIVE)
    harness.camera.start()
    # the gate starts STOPPED for lack of commands: that must not pause the policy
    harness.safety.publish(SafetyState(state=SafetyState.STATE_STOPPED,
                                       reasons=SafetyState.REASON_NO_COMMAND,
                                       reason_names=['NO_COMMAND']))
    harness.send('ins-1', LEFT)
    harness.cmds.wait(3, timeout=20.0)
    # a sensor drops out: pause (one stop), then resume the same instruction
    harness.safety.publish(SafetyState(state=SafetyState.STATE_STOPPED,
                                       reasons=SafetyState.REASON_ODOM_TIMEOUT,
                                       reason_names=['ODOM_TIMEOUT']))
    harness.wait_state(PolicyStatus.STATE_PAUSED, 20.0, 'ODOM_TIMEOUT')
    time.sleep(0.5)
    count = len(harness.cmds)
    last = harness.cmds.last
    assert (last.linear.x, last.linear.y, last.angular.z) == (0.0, 0.0, 0.0)
    time.sleep(1.0)
    assert len(harness.cmds) == count
    harness.safety.publish(SafetyState(state=SafetyState.STATE_OK))
    harness.status.wait(1, 20.0, lambda m: m.trigger_counts_safety_resume == 1)
    harness.cmds.wait(count + 3, timeout=20.0)
    # an e-stop cancels the instruction: releasing it does not restart motion
    harness.safety.publish(SafetyState(state=SafetyState.STATE_ESTOP,
                                       reasons=SafetyState.REASON_ESTOP,
                                       reason_names=['ESTOP']))
    cancelled = harness.result('ins-1')
    assert cancelled.result == TaskResult.RESULT_CANCELLED and 'e-stop' in cancelled.reason
    time.sleep(0.5)
    harness.safety.publish(SafetyState(state=SafetyState.STATE_OK))
    harness.sent_at = time.monotonic()
    harness.wait_state(PolicyStatus.STATE_IDLE, 20.0, 'waiting for a new instruction')
    count = len(harness.cmds)
    assert harness.cmds.last.linear.y == 0.0
    time.sleep(1.0)
    assert len(harness.cmds) == count
    harness.send('ins-2', LEFT)
    harness.cmds.wait(count + 3, timeout=20.0)
    # deactivate: queue flushed, a stop published first, heartbeat ends, the task FAILED
    response = call_service(harness.node, ChangeState, 'policy_node/change_state',
                            ChangeState.Request(transition=Transition(
                                id=Transition.TRANSITION_DEACTIVATE)), timeout=20.0)
    assert response.success
    wait_for(lambda: harness.cmds.last.linear.x == 0.0 and harness.cmds.last.linear.y == 0.0,
             10.0, what='a stop after deactivate')
    assert harness.result('ins-2').result == TaskResult.RESULT_FAILED
    time.sleep(0.5)
    beats, count = len(harness.heartbeat), len(harness.cmds)
    time.sleep(1.0)
    assert len(harness.cmds) == count and len(harness.heartbeat) == beats


def test_refused_and_stop_instructions(node_processes, harness, left_right_checkpoint):
    start_policy(node_processes, model_path=left_right_checkpoint)
    harness.wait_state(PolicyStatus.STATE_IDLE, STARTUP, ACTIVE)
    harness.camera.start()
    harness.send('ins-1', '아무거나', Instruction.STATUS_NOT_UNDERSTOOD, reason='no target')
    harness.wait_state(PolicyStatus.STATE_IDLE, 20.0, 'not understood: no target')
    harness.send('ins-2', '   ')
    harness.wait_state(PolicyStatus.STATE_IDLE, 20.0, 'empty text')
    harness.send('ins-3', '컵까지 가지 마', Instruction.STATUS_REFUSED, reason='prohibition')
    assert harness.result('ins-3').reason == 'prohibition'
    assert [harness.result(i).result for i in ('ins-1', 'ins-2')] == \
        [TaskResult.RESULT_REFUSED] * 2
    time.sleep(1.0)
    assert len(harness.cmds) == 0
    harness.send('ins-4', LEFT)
    harness.cmds.wait(3, timeout=20.0)
    harness.send('ins-5', '멈춰', Instruction.STATUS_STOP)
    assert harness.result('ins-4').result == TaskResult.RESULT_CANCELLED
    harness.wait_state(PolicyStatus.STATE_IDLE, 20.0)
    time.sleep(0.5)
    count = len(harness.cmds)
    assert harness.cmds.last.linear.y == 0.0
    time.sleep(1.0)
    assert len(harness.cmds) == count


def test_arm_mode_publishes_arm_commands(node_processes, ros, tmp_path):
    from vla_policy_node.policies import Normalizer

    ckpt = random_checkpoint(tmp_path / 'arm', 'arm', state_dim=6,
                             normalizer=Normalizer.default('arm', 6))
    h = Harness(ros, 'arm', compressed=True)   # and the camera sends JPEG
    try:
        start_policy(node_processes, model_path=ckpt, action_space='arm', state_timeout=1.0)
        h.wait_state(PolicyStatus.STATE_IDLE, STARTUP, ACTIVE)
        joints = h.node.create_publisher(JointState, 'joint_states', SENSOR_QOS)
        h.camera.start()
        h.send('ins-1', 'pick up the red block')
        h.wait_state(PolicyStatus.STATE_PAUSED, 20.0, 'robot state')  # needs joint states
        stop = threading.Event()

        def publish_joints() -> None:
            while not stop.is_set():
                msg = JointState(name=[f'j{i}' for i in range(6)], position=[0.1] * 6)
                msg.header.stamp = h.node.get_clock().now().to_msg()
                joints.publish(msg)
                time.sleep(0.05)
        thread = threading.Thread(target=publish_joints, daemon=True)
        thread.start()
        try:
            # A feed that stalls under load makes the node hold first: legitimate.
            cmd = h.cmds.wait(3, timeout=20.0, predicate=lambda m: m.mode != ArmCommand.MODE_HOLD)
        finally:
            stop.set()
            thread.join(2.0)
        assert cmd.mode == ArmCommand.MODE_END_EFFECTOR_DELTA
        assert all(abs(v) <= 0.65 + 1e-9 for v in cmd.ee_delta) and 0.0 <= cmd.gripper <= 1.0
        # Its stops are routine: a hold, never the driver's hard stop (the e-stop's alone).
        assert all(m.mode != ArmCommand.MODE_STOP for m in h.cmds.messages)
        assert h.chunks.wait(1, 10.0).dims == 7
    finally:
        h.camera.stop()


def test_action_space_mismatch_is_a_configure_error(node_processes, harness, tmp_path):
    start_policy(node_processes, model_path=random_checkpoint(tmp_path / 'arm', 'arm'),
                 action_space='base')
    harness.wait_state(PolicyStatus.STATE_ERROR, STARTUP, "'arm' action space")


def test_preflight_refuses_a_model_that_does_not_fit(node_processes, harness, tmp_path):
    # Keep more memory free than this machine has: the budget check must refuse the model.
    start_policy(node_processes, model_path=random_checkpoint(tmp_path / 'm'),
                 preflight_memory_reserve_mb=65536.0)
    status = harness.wait_state(PolicyStatus.STATE_ERROR, STARTUP, 'too large for free memory')
    assert 'preflight refused the model' in status.error
    diag = MessageCollector(harness.node, DiagnosticArray, '/diagnostics')
    msg = diag.wait(1, 10.0, lambda m: any(s.name.endswith(': preflight') for s in m.status))
    pre = next(s for s in msg.status if s.name.endswith(': preflight'))
    values = {kv.key: kv.value for kv in pre.values}
    assert pre.level == DiagnosticStatus.ERROR and pre.hardware_id == 'not a Jetson'
    assert values['memory'].startswith('ERROR') and values['budget'].startswith('nano')
    time.sleep(1.0)
    assert not harness.cmds.messages   # no commands while refused


def test_a_scene_change_chunk_acts_at_once_instead_of_blending(node_processes, harness):
    """The first command after a scene change is the new chunk's first due action.

    The scripted policy's actions name their frame (linear_y: dark -> right, bright -> left)
    and their chunk step (linear_x = 0.05 m/s * step). Before the change every command is a
    row of a dark chunk; the first command that is not must be exactly a row of the bright
    chunk (not a cross-fade with the old queue), followed by the next rows one per tick.
    """
    start_scripted_policy(node_processes)
    harness.wait_state(PolicyStatus.STATE_IDLE, STARTUP, ACTIVE)
    dark, bright = expected_chunk(0.2).astype(np.float64), expected_chunk(0.8).astype(np.float64)
    harness.camera.frame = frame(0.2)
    harness.camera.start()
    harness.send('ins-1', LEFT)
    harness.cmds.wait(5, timeout=20.0)
    harness.camera.frame = frame(0.8)
    harness.chunks.wait(1, 20.0, lambda m: abs(m.data[1] - bright[0, 1]) < 1e-6)
    harness.cmds.wait(1, 20.0, lambda m: m.linear.y == bright[0, 1])
    cmds = [(c.linear.x, c.linear.y, c.angular.z) for c in harness.cmds.messages]
    first = next(i for i, c in enumerate(cmds) if c[1] != dark[0, 1])
    assert all(c in {tuple(row) for row in dark} for c in cmds[:first])
    k = int(np.flatnonzero(np.isclose(bright[:, 0], cmds[first][0]))[0])
    assert cmds[first] == tuple(bright[k]), 'a blend of the old and new chunk went out'
    assert k <= 3                       # the frame's age + the model time, in 0.1 s steps
    harness.cmds.wait(first + 3, 20.0)
    following = harness.cmds.messages[first + 1:first + 3]
    assert [(c.linear.x, c.linear.y) for c in following] == \
        [tuple(bright[k + 1, :2]), tuple(bright[k + 2, :2])]
    status = harness.status.wait(1, 10.0, lambda m: m.trigger_counts_scene_change >= 1)
    assert status.state == PolicyStatus.STATE_RUNNING


def test_what_the_laser_sees_enter_free_space_triggers_an_inference(node_processes, harness):
    """Odometry and 360-beam scans over DDS; the camera frame never changes. A static scan
    triggers nothing; an object appearing 0.8 m behind the robot (out of any camera's view)
    is a scene change."""
    start_scripted_policy(node_processes)
    harness.wait_state(PolicyStatus.STATE_IDLE, STARTUP, ACTIVE)
    odom_pub = harness.node.create_publisher(Odometry, 'odom', SENSOR_QOS)
    scan_pub = harness.node.create_publisher(LaserScan, 'scan', SENSOR_QOS)
    ranges = [2.0] * 360

    def publish() -> None:
        stamp = harness.node.get_clock().now().to_msg()
        odom = Odometry()
        odom.header.stamp = stamp
        odom.pose.pose.orientation.w = 1.0
        odom_pub.publish(odom)
        scan = LaserScan(angle_min=-np.pi, angle_increment=np.pi / 180, range_min=0.05,
                         range_max=6.0, ranges=list(ranges))
        scan.header.stamp = stamp
        scan_pub.publish(scan)

    timer = harness.node.create_timer(0.1, publish)
    try:
        harness.camera.frame = frame(0.2)
        harness.camera.start()
        harness.send('ins-1', LEFT)
        harness.cmds.wait(10, timeout=20.0)
        quiet = harness.status.wait(1, 10.0, lambda m: m.state == PolicyStatus.STATE_RUNNING,
                                    since=time.monotonic())
        assert quiet.trigger_counts_scene_change == 0
        ranges[:6] = ranges[-6:] = [0.8] * 6           # straight behind the robot
        harness.status.wait(1, 20.0, lambda m: m.trigger_counts_scene_change == 1,
                            since=time.monotonic())
    finally:
        harness.node.destroy_timer(timer)


def test_the_policy_ends_its_task_and_consumes_the_instruction(node_processes, harness):
    """A stand-in policy declares done when the goal is in view: the node stops, reports
    DONE, publishes the TaskResult and does not move again without a new instruction."""
    start_scripted_policy(node_processes, {'done_brightness': 0.9}, done_steps=3,
                          done_threshold=0.5)
    harness.wait_state(PolicyStatus.STATE_IDLE, STARTUP, ACTIVE)
    harness.camera.frame = frame(0.2)
    harness.camera.start()
    harness.send('ins-1', LEFT)
    harness.cmds.wait(3, timeout=20.0)
    harness.camera.frame = frame(0.95)                        # the goal comes into view
    result = harness.result('ins-1')
    assert result.result == TaskResult.RESULT_DONE and result.inference_count >= 2
    assert result.duration > 0.0
    done = harness.wait_state(PolicyStatus.STATE_DONE, 20.0, 'task done')
    assert done.instruction_id == '' and 'waiting for a new instruction' in done.detail
    assert any(len(c.done) == c.steps and min(c.done) > 0.89 for c in harness.chunks.messages)
    time.sleep(0.5)
    count = len(harness.cmds)
    last = harness.cmds.last
    assert (last.linear.x, last.linear.y, last.angular.z) == (0.0, 0.0, 0.0)
    time.sleep(1.5)                                           # consumed: nothing moves it
    assert len(harness.cmds) == count
    harness.camera.frame = frame(0.2)
    harness.send('ins-2', LEFT)                               # a new instruction does
    harness.cmds.wait(count + 3, timeout=20.0, predicate=lambda m: m.linear.y != 0.0)


@pytest.mark.stack
def test_a_restarted_policy_does_not_move_on_the_latched_instruction(
        node_processes, harness, ros):
    """Kill the policy process (no clean stop) and start it again while the instruction is
    still latched on `instruction`: no non-zero cmd_vel_in, and the gate's cmd_vel stays
    zero, until the operator gives a new instruction."""

    # The gate's geofence needs odometry (the base stands still at the origin); no scan.
    odom = harness.node.create_publisher(Odometry, 'odom', SENSOR_QOS)

    def publish_odom() -> None:
        msg = Odometry()
        msg.header.stamp = harness.node.get_clock().now().to_msg()
        msg.pose.pose.orientation.w = 1.0
        odom.publish(msg)
    harness.node.create_timer(0.05, publish_odom)
    node_processes([str(GATE), *ros_args(mode='base', require_scan=False)], 'safety_gate')
    cmd_vel = MessageCollector(harness.node, Twist, 'cmd_vel')
    harness.camera.frame = frame(0.2)
    harness.camera.start()
    first = start_scripted_policy(node_processes)
    harness.wait_state(PolicyStatus.STATE_IDLE, STARTUP, ACTIVE)
    harness.send('ins-1', LEFT)
    # the chain moves the robot (so "stays zero" below is a real observation)
    cmd_vel.wait(1, 30.0, lambda m: m.linear.y != 0.0)
    t_kill = time.monotonic()
    first.kill()                                               # SIGKILL: no goodbye stop
    # the gate's command timeout, then its deceleration ramp, bring cmd_vel to zero
    cmd_vel.wait(1, 30.0, lambda m: m.linear.y == 0.0, since=t_kill)
    harness.status.clear()
    harness.results.clear()
    t_restart = time.monotonic()
    start_scripted_policy(node_processes)
    harness.status.wait(1, STARTUP, lambda m: m.state == PolicyStatus.STATE_IDLE
                        and 'waiting for a new instruction' in m.detail
                        and 'before this policy was activated' in m.detail)
    refused = harness.result('ins-1')
    assert refused.result == TaskResult.RESULT_REFUSED
    time.sleep(3.0)                                            # plenty of control ticks
    assert not [c for c in harness.cmds.since(t_restart)
                if (c.linear.x, c.linear.y, c.angular.z) != (0.0, 0.0, 0.0)]
    assert all(m.linear.y == 0.0 and m.linear.x == 0.0 for m in cmd_vel.since(t_restart))
    assert len(cmd_vel.since(t_restart)) > 20                  # the gate kept publishing
    t_new = time.monotonic()
    harness.send('ins-2', LEFT)                                # the operator's new one moves
    cmd_vel.wait(1, 30.0, lambda m: m.linear.y != 0.0, since=t_new)
