"""End to end on this machine: the mobile stack (MuJoCo sim, policy, safety gate, instruction
node) as separate processes over DDS.

A Korean instruction produces motion that goes through the gate and moves the simulated base;
the e-stop stops it; killing the policy process stops it within the watchdog time. The policy
here is a small randomly initialised checkpoint: this checks the plumbing and the safety
behaviour, not the task (the shipped model's task performance is tested by vla_learning).
"""

import math
import signal
import subprocess
import time

import pytest
from geometry_msgs.msg import Twist
from std_msgs.msg import Bool
from vla_bringup.runner import executable_path
from vla_bringup.session import EpisodeSession
from vla_bringup.stacks import mobile_stack
from vla_common.qos import COMMAND_QOS, LATCHED_QOS
from vla_msgs.msg import SafetyState
from vla_msgs.srv import Estop, StartEpisode

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope='module')
def tiny_policy(tmp_path_factory):
    out = tmp_path_factory.mktemp('policy') / 'tiny'
    subprocess.run([executable_path('vla_policy_node', 'init_policy'), '--out', str(out),
                    '--tiny', '--seed', '3'], check=True, capture_output=True, timeout=300)
    return str(out)


@pytest.fixture(scope='module')
def session(ros_domain, tiny_policy, tmp_path_factory):
    params = tmp_path_factory.mktemp('params') / 'e2e.yaml'
    # No speech model in this test: text instructions only.
    params.write_text('instruction_node:\n  ros__parameters:\n    voice_enabled: false\n')
    stack = mobile_stack(sim='mujoco', model=tiny_policy, params_file=str(params),
                         scenario='1box_vert_left', seed=5)
    logs = []
    s = EpisodeSession(stack, log=lambda name, line: logs.append(f'[{name}] {line}'))
    s.logs = logs
    try:
        s.start(ready_timeout=180)
        yield s
    finally:
        s.close()


class _Watch:
    """Record cmd_vel (what the base receives) on the session's node, with the wall time and
    the sim time (the stack's clock) of its arrival."""

    def __init__(self, session):
        self.msgs = []
        self.sub = session.node.create_subscription(
            Twist, 'cmd_vel',
            lambda m: self.msgs.append((time.monotonic(), session.sim_time, m)), COMMAND_QOS)

    def since(self, t):
        return [m for s, _, m in self.msgs if s >= t]

    def since_sim(self, t):
        return [m for _, s, m in self.msgs if s >= t]


def _speed(m):
    return math.hypot(m.linear.x, m.linear.y) + abs(m.angular.z)


def _position(session):
    with session._lock:
        return session.trajectory[-1][1:] if session.trajectory else None


def _wait(pred, timeout, what, session):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        why = session.runner.check()
        expected = getattr(session, 'expected_death', None)
        assert why is None or why == expected, why + '\n' + '\n'.join(session.logs[-60:])
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f'timed out waiting for {what}\n' + '\n'.join(session.logs[-60:]))


def test_security_interface_table_covers_the_running_nodes(session):
    """The SROS2 permissions come from `vla_bringup.security.NODE_INTERFACES`: every topic
    and service the running nodes really use must be in it (or the robot breaks under
    enforced security)."""
    from vla_bringup import security
    n = session.node
    for spec in session.stack.runnable_here():
        grant = next(g for g in security.grants(session.stack) if g.node.endswith(spec.name))
        ns = '/' + spec.namespace.strip('/')
        # The session waits for the topics it uses, not for every node's graph entry.
        _wait(lambda: (spec.name, ns) in n.get_node_names_and_namespaces(), 30,
              f'{spec.name} in the ROS graph', session)
        queries = ((n.get_publisher_names_and_types_by_node, grant.publish, 'publish'),
                   (n.get_subscriber_names_and_types_by_node, grant.subscribe, 'subscribe'),
                   (n.get_service_names_and_types_by_node, grant.reply, 'reply'),
                   (n.get_client_names_and_types_by_node, grant.request, 'request'))
        for query, allowed, what in queries:
            used = {name for name, _ in query(spec.name, ns)}
            missing = used - set(allowed)
            assert not missing, (f'{spec.name} uses {sorted(missing)} ({what}) which '
                                 'vla_bringup.security.NODE_INTERFACES does not grant')


def test_korean_instruction_moves_the_simulated_base(session):
    watch = _Watch(session)
    future = session.start_client.call_async(
        StartEpisode.Request(scenario='1box_vert_left', seed=5))
    _wait(future.done, 30, 'start_episode', session)
    assert future.result().success
    time.sleep(0.5)
    start = _position(session)
    session.send_text('박스를 왼쪽으로 돌아서 컵까지 가세요')
    _wait(lambda: any(_speed(m) > 0.02 for m in watch.since(0)), 60,
          'a non-zero gated cmd_vel', session)
    _wait(lambda: _position(session) is not None and start is not None
          and math.dist(_position(session), start) > 0.05, 60,
          'the simulated base to move 5 cm', session)
    assert session.status.instruction_id, 'the policy acted on the normalised instruction'


def test_killing_the_policy_stops_the_robot_within_the_watchdog(session):
    watch = _Watch(session)
    _wait(lambda: any(_speed(m) > 0.02 for m in watch.since(0)), 30,
          'the policy still driving', session)
    policy = next(h for h in session.runner.handles if h.name == 'policy_node')
    session.expected_death = f'node policy_node exited with code {-signal.SIGKILL}'
    policy.signal(signal.SIGKILL)
    t_kill = session.sim_time
    deadline = time.monotonic() + 10
    while policy.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert session.runner.check() == f'node policy_node exited with code {-signal.SIGKILL}'
    # Command timeout 0.25 s, heartbeat 0.5 s, one 50 Hz tick: all zeros after 0.6 s of the
    # gate's clock (sim time here: on a loaded machine the simulation runs slower than the
    # wall clock; the wall-time bound is bench_faults.py's figure).
    _wait(lambda: session.sim_time >= t_kill + 1.5, 30, '1.5 s of sim time', session)
    late = watch.since_sim(t_kill + 0.6)
    assert late, 'the gate keeps publishing after the policy died'
    assert all(_speed(m) == 0.0 for m in late)
    _wait(lambda: bool(session.safety.reasons & SafetyState.REASON_HEARTBEAT_LOST), 10,
          'HEARTBEAT_LOST reported', session)
    p0 = _position(session)
    time.sleep(1.0)
    assert math.dist(_position(session), p0) < 0.02, 'the simulated base stopped'


def test_estop_stops_the_simulated_robot(session):
    """An operator drives (our own cmd_vel_in + heartbeat), then engages the e-stop."""
    from std_msgs.msg import Header
    node = session.node
    cmd_pub = node.create_publisher(Twist, 'cmd_vel_in', COMMAND_QOS)
    hb_pub = node.create_publisher(Header, 'heartbeat', COMMAND_QOS)
    estop_pub = node.create_publisher(Bool, 'estop', LATCHED_QOS)
    drive = {'vx': 0.2}

    def tick():
        msg = Twist()
        msg.linear.x = drive['vx']
        cmd_pub.publish(msg)
        hb_pub.publish(Header(stamp=node.get_clock().now().to_msg()))

    timer = node.create_timer(0.05, tick)
    watch = _Watch(session)
    _wait(lambda: any(m.linear.x > 0.1 for m in watch.since(0)), 20, 'motion passes', session)
    estop_pub.publish(Bool(data=True))
    t_estop = time.monotonic()
    _wait(lambda: session.safety.state == SafetyState.STATE_ESTOP, 10, 'ESTOP state', session)
    time.sleep(1.0)
    # Commands the gate sent before the e-stop reached it may still arrive (a loaded machine
    # delays both); from the gate's first zero on, every output is zero.
    after = watch.since(t_estop)
    first = next((i for i, m in enumerate(after) if _speed(m) == 0.0), None)
    assert first is not None and len(after) > first + 5, 'the gate kept publishing zeros'
    assert all(_speed(m) == 0.0 for m in after[first:]), 'only zeros after the e-stop'
    p0 = _position(session)
    time.sleep(1.0)
    assert math.dist(_position(session), p0) < 0.02, 'the simulated base stopped'
    client = node.create_client(Estop, 'safety_gate/reset_estop')
    assert client.wait_for_service(timeout_sec=10)

    def reset():
        fut = client.call_async(Estop.Request(reason='e2e test'))
        _wait(fut.done, 10, 'reset response', session)
        return fut.result()

    assert not reset().success, 'reset refused while motion is commanded'
    drive['vx'] = 0.0
    # The quiet time runs on the gate's clock (sim time here, slower than the wall clock on
    # a loaded machine): ask until the rule is met; until then the only refusal is the quiet
    # time.
    replies: list = []
    _wait(lambda: replies.append(reset()) or replies[-1].success, 30,
          'reset accepted after the command has been zero', session)
    assert all('non-zero command' in r.message for r in replies[:-1]), replies
    drive['vx'] = 0.2
    t_go = time.monotonic()
    _wait(lambda: any(m.linear.x > 0.1 for m in watch.since(t_go)), 20, 'motion resumes',
          session)
    node.destroy_timer(timer)
