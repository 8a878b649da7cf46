"""The arm's hardware path in closed loop: safety_gate (arm) -> realman_bridge -> arm_sim, each
its own process over DDS, arm_sim speaking RealMan rm_driver's topics.

This test plays the policy itself (ArmCommand end-effector deltas on `arm_cmd_in`, the unit the
policy outputs: metres per control tick, at its 10 Hz control rate, plus the heartbeat), or lets
the scripted expert do it:
  * the per-command step cap at the real command rate: 1 cm deltas at 10 Hz move the tool at
    0.1 m/s, and the same deltas at 20 Hz do not move it faster;
  * a policy pushing out of the workspace box (down into the table): the arm stops at the box;
  * command timeout: the arm holds where it was; the driver's hard stop is never sent;
  * e-stop in the middle of a grasp: the hard stop is sent once, the arm stops, the object stays
    in the gripper.
"""

import threading
import time

import pytest
from geometry_msgs.msg import Pose
from rosgraph_msgs.msg import Clock
from std_msgs.msg import Bool, Header
from vla_bringup.arm_session import ArmEpisodeSession
from vla_bringup.stacks import arm_stack, NodeSpec, ParamFile, resolved_parameters, StackSpec
from vla_common.qos import COMMAND_QOS, LATCHED_QOS
from vla_msgs.msg import ArmCommand, ArmEpisodeResult, Instruction, SafetyState
from vla_msgs.srv import Estop, StartEpisode
from vla_testing.ros import wait_for

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope='module')
def loop(ros_domain):
    """arm_sim (real time) + safety_gate + realman_bridge + arm_expert; no policy."""
    base = arm_stack(sim='mujoco', instruction_node=False)
    nodes = [n.with_parameters(auto_start=False) if n.name == 'arm_sim' else n
             for n in base.nodes if n.name != 'policy_node']
    nodes.append(NodeSpec('arm_expert', 'arm_sim', 'arm_expert',
                          (ParamFile('arm_sim', 'config/arm_expert.param.yaml'),)
                          ).with_parameters(use_sim_time=True))
    stack = StackSpec('arm_loop', tuple(nodes), dict(base.arguments))
    logs = []
    s = ArmEpisodeSession(stack, log=lambda name, line: logs.append(f'[{name}] {line}'))
    s.logs = logs
    s.tcp = []              # (monotonic, x, y, z)
    s.sim_tcp = []          # (sim time, x, y, z): speeds are measured on the simulator's clock
    s.sim_now = [0.0]
    s.driver_stops = []
    n = s.node

    def on_pose(m):
        p = m.position
        s.tcp.append((time.monotonic(), p.x, p.y, p.z))
        s.sim_tcp.append((s.sim_now[0], p.x, p.y, p.z))

    n.create_subscription(Clock, '/clock', lambda m: s.sim_now.__setitem__(
        0, m.clock.sec + m.clock.nanosec * 1e-9), 10)
    n.create_subscription(Pose, 'rm_driver/udp_arm_position', on_pose, 50)
    n.create_subscription(Bool, '/rm_driver/move_stop_cmd',
                          lambda m: s.driver_stops.append(m), 10)
    s.cmd_pub = n.create_publisher(ArmCommand, 'arm_cmd_in', COMMAND_QOS)
    s.hb_pub = n.create_publisher(Header, 'heartbeat', COMMAND_QOS)
    s.ins_pub = n.create_publisher(Instruction, 'instruction', LATCHED_QOS)
    s.gate_params = resolved_parameters(stack.node('safety_gate'))
    try:
        s.start(ready_timeout=180)
        yield s
    finally:
        s.close()


def _start(s, task, seed):
    resp = s.call(s.start_client, StartEpisode.Request(scenario=task, seed=seed), 'start')
    assert resp.success, resp.message
    s.wait_until(lambda: s._running(task), 30.0, 'the episode')
    t = time.monotonic()
    s.wait_until(lambda: s.tcp and s.tcp[-1][0] > t, 30.0, 'the tool pose of the new episode')


class _Policy:
    """Plays the policy: an end-effector delta per control tick and the heartbeat."""

    def __init__(self, s, delta, rate=10.0, command=True):
        self.s, self.delta, self.period, self.command = s, delta, 1.0 / rate, command
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            if self.command:
                msg = ArmCommand(mode=ArmCommand.MODE_END_EFFECTOR_DELTA)
                msg.ee_delta = [float(v) for v in self.delta]
                self.s.cmd_pub.publish(msg)
            self.s.hb_pub.publish(Header(frame_id='test_policy'))
            self.stop.wait(self.period)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(2.0)


def _tcp_at(s, t):
    """The tool point at monotonic time t (the last report before it)."""
    before = [p for p in s.tcp if p[0] <= t]
    return before[-1][1:] if before else None


def _wait_moving(s, axis, since, amount):
    wait_for(lambda: s.tcp and _tcp_at(s, since) is not None
             and abs(s.tcp[-1][axis + 1] - _tcp_at(s, since)[axis]) > amount, 30.0,
             what='the tool point to move')


def _speed_down(s, rate, seconds):
    """Push down at `rate` Hz of wall time (1 cm per command); the tool point's speed over
    `seconds` of sim time (the gate's clock: a loaded machine slows the simulator)."""
    t0 = time.monotonic()
    with _Policy(s, (0.0, 0.0, -0.01, 0.0, 0.0, 0.0), rate):
        _wait_moving(s, 2, t0, 0.005)
        n0 = len(s.sim_tcp) - 1
        wait_for(lambda: s.sim_tcp[-1][0] - s.sim_tcp[n0][0] >= seconds, 60.0,
                 what=f'{seconds} s of sim time')
        a, b = s.sim_tcp[n0], s.sim_tcp[-1]
    return (a[3] - b[3]) / (b[0] - a[0])


def test_step_cap_is_a_speed_at_the_real_command_rate_and_the_box_holds(loop):
    s = loop
    _start(s, 'reach_blue_block', 0)
    z_min = s.gate_params['arm.workspace_min'][2]
    # 1 cm per command at the policy's 10 Hz: the cap is 0.1 m/s. The arm is slower: the
    # bridge composes each delta onto the measured pose, which trails the last point by the
    # controller's interpolation over the stream period and the servo's lag (0.074 m/s
    # unloaded in arm_sim's direct runner), and a loaded machine delays this test's
    # commands (0.019 m/s seen at load 16); test_core_arm_gate.py checks the exact sums.
    # Here: it moves down (`_speed_down` waited for that), never faster than the cap.
    slow = _speed_down(s, 10.0, 1.0)
    assert 0.0 < slow <= 0.1 * 1.15
    # The same deltas twice as often: the cap is per command at 10 Hz, still 0.1 m/s.
    assert _speed_down(s, 20.0, 0.6) <= 0.1 * 1.15
    # Down into the table, for longer than it takes to reach the box: it stops at the box.
    t0 = time.monotonic()
    with _Policy(s, (0.0, 0.0, -0.01, 0.0, 0.0, 0.0)):
        s.wait_until(lambda: s.safety is not None
                     and s.safety.reasons & SafetyState.REASON_WORKSPACE, 30.0,
                     'the gate to clip at the workspace box')
        time.sleep(1.0)
    lowest = min(p[3] for p in s.tcp if p[0] >= t0)
    assert lowest >= z_min - 0.005, lowest            # stopped at the box, not in the table
    assert abs(s.tcp[-1][3] - z_min) < 0.01
    assert not s.driver_stops


def test_command_timeout_holds_without_the_hard_stop(loop):
    s = loop
    _start(s, 'reach_yellow_block', 1)
    t0 = time.monotonic()
    with _Policy(s, (0.0, 0.0, -0.005, 0.0, 0.0, 0.0)):
        _wait_moving(s, 2, t0, 0.01)
    # Commands stop, the heartbeat goes on: COMMAND_TIMEOUT -> one hold -> nothing to the driver.
    with _Policy(s, (), command=False):
        s.wait_until(lambda: s.safety.reasons & SafetyState.REASON_COMMAND_TIMEOUT, 30.0,
                     'the command timeout')
        assert s.safety.arm_cmd_sent.mode == ArmCommand.MODE_HOLD
        time.sleep(0.5)
        t1 = time.monotonic()
        time.sleep(1.0)
        t2 = time.monotonic()
    a, b = _tcp_at(s, t1), _tcp_at(s, t2)
    assert max(abs(x - y) for x, y in zip(a, b)) < 0.002        # holds where it was
    assert not s.driver_stops                                   # no hard stop
    assert s._last_result().hard_stops == 0 and 'hold from the safety gate' in '\n'.join(s.logs)


def test_estop_mid_grasp_stops_the_arm_once_and_keeps_the_object(loop):
    s = loop
    _start(s, 'blue_block_tray', 3)
    s.ins_pub.publish(Instruction(id='arm-loop-1', text='파란 블록을 집어서 쟁반에 넣으세요'))
    s.wait_until(lambda: s._last_result().grasped, 60.0, 'the expert to grasp and lift')
    estop = s.node.create_client(Estop, 'safety_gate/trigger_estop')
    assert s.call(estop, Estop.Request(reason='test: e-stop mid-grasp'), 'trigger_estop').success
    s.wait_until(lambda: len(s.driver_stops) >= 1, 10.0, 'the driver hard stop')
    s.wait_until(lambda: s._last_result().hard_stops == 1, 10.0, 'the arm to get it')
    time.sleep(0.5)
    t1 = time.monotonic()
    time.sleep(1.5)
    t2 = time.monotonic()
    a, b = _tcp_at(s, t1), _tcp_at(s, t2)
    assert max(abs(x - y) for x, y in zip(a, b)) < 0.003        # stopped
    assert len(s.driver_stops) == 1                            # once per e-stop
    held = s._last_result()
    assert held.outcome == ArmEpisodeResult.OUTCOME_RUNNING and held.grasped
    assert held.object_end.z > 0.04                             # still in the gripper, lifted
    assert s.safety.state == SafetyState.STATE_ESTOP
