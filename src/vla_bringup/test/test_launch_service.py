"""The stacks started by a real `LaunchService` (the vendored humble launch / launch_ros), the
way `ros2 launch` starts them on the target.

`mobile.launch.py sim:=mujoco`: every node comes up; an instruction sent long after start-up
(past the scenario's time limit in sim time) still reaches the cup; SIGINT to the launch
process ends every process it started (no orphans).
`arm.launch.py` against the arm simulator (arm_sim, RealMan's driver interface) started
beside it like the driver on the robot, and `arm.launch.py sim:=mujoco` with the shipped arm
model doing a tabletop task to its end.
"""

import contextlib
import math
import pathlib

import pytest
from vla_bringup.launch_support import package_installed
from vla_bringup.session import EpisodeSession
from vla_bringup.stacks import arm_stack, mobile_stack
from vla_msgs.msg import EpisodeResult
from vla_testing.launch_tools import descendants, LaunchProcess
from vla_testing.ros import wait_for

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SCENARIO = '1box_vert_left'


def test_mobile_mujoco_under_launch_service(launch_overlay, ros_domain, tmp_path):
    from mobile_base.core.scenarios import make_instance

    scene = make_instance(SCENARIO, 0)
    args = {'sim': 'mujoco', 'scenario': SCENARIO, 'voice': 'false'}
    stack = mobile_stack(**args)
    with _under_launch('mobile.launch.py', args, stack, EpisodeSession, launch_overlay,
                       tmp_path) as (session, launch, pids):
        assert len(pids) >= len(list(stack.runnable_here()))
        # Long after start-up: past the episode's time limit on the simulator's clock.
        session.wait_until(lambda: session.trajectory and session.trajectory[-1][0]
                           > scene.time_limit + 5.0, 240, 'sim time past the time limit')
        assert not session.results or session.results[-1].outcome == \
            EpisodeResult.OUTCOME_RUNNING, 'the episode ended before any instruction'
        session.send_text(scene.instruction)
        session.wait_until(lambda: session.results and session.results[-1].outcome
                           != EpisodeResult.OUTCOME_RUNNING, 240, 'the episode to end')
        result = session.results[-1]
        assert result.outcome == EpisodeResult.OUTCOME_REACHED, (
            f'outcome {result.outcome} after {result.time:.1f} s\n' + launch.output()[-4000:])
        assert result.passed_side == EpisodeResult.SIDE_LEFT
        # The policy ended the task itself: it stopped the robot inside the radius (the
        # simulator only judges; nothing else stops the base).
        assert result.ended_by == EpisodeResult.ENDED_BY_POLICY and result.success, result
        start = session.trajectory[0]
        assert math.dist(start[1:], (scene.cup.x, scene.cup.y)) > scene.success_radius


@contextlib.contextmanager
def _under_launch(launch_file, args, stack, session_class, launch_overlay, tmp_path):
    """`ros2 launch vla_bringup <launch_file> <args>` observed by a session, once every node
    is in the ROS graph; yields (session, launch, the processes launch started). On the way
    out, SIGINT to launch (as Ctrl-C in its terminal) ends each of them cleanly, no orphans."""
    # sigterm_timeout (a launch configuration ExecuteProcess reads, default 5 s): how long
    # launch waits after SIGINT before escalating; generous on a loaded 2-core machine, so a
    # node that does not stop by itself is still reported as such.
    launch = LaunchProcess('vla_bringup', launch_file,
                           dict(args, sigterm_timeout='30', sigkill_timeout='10'),
                           launch_overlay.env, str(tmp_path / 'launch.log'))
    session = session_class(stack, runner=launch)
    pids, expected = [], set()
    try:
        session.start(ready_timeout=240)
        expected = {n.name for n in stack.runnable_here()}
        session.wait_until(lambda: expected <= set(session.node.get_node_names()), 60,
                           f'the nodes {sorted(expected)} in the ROS graph')
        pids = descendants(launch.proc.pid)
        yield session, launch, pids
    finally:
        session.close()
    _ended_cleanly(launch, expected, pids)


def _ended_cleanly(launch, expected, pids):
    """launch exited 0 after each expected node finished cleanly; none of its processes is
    left."""
    out = launch.output()
    assert launch.returncode == 0, out[-4000:]
    for name in expected:
        assert f'[{name}-' in out and 'process has died' not in out, out[-4000:]
    assert out.count('process has finished cleanly') == len(expected), out[-4000:]
    wait_for(lambda: not [p for p in pids if _alive(p)], 30, what='no orphan processes')


def _alive(pid):
    try:
        with open(f'/proc/{pid}/stat', encoding='utf-8') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


@pytest.mark.skipif(not (package_installed('rm_driver') and package_installed('v4l2_camera')),
                    reason="arm.launch.py sim:=false starts RealMan's rm_driver and v4l2_camera "
                    '(target only; not installable here). The arm stack under launch runs in '
                    'test_arm_mujoco_under_launch_service_with_the_shipped_model (sim:=mujoco)')
def test_arm_launch_drives_the_arm_simulator(launch_overlay, ros, node_processes, tmp_path):
    """arm.launch.py under a LaunchService with arm_sim as the RealMan driver: the scripted
    expert's end-effector deltas go policy topic -> gate -> realman_bridge -> driver and move
    the simulated arm; the gate, latched at start-up on the arm, moves only after the reset."""
    from ament_index_python.packages import get_package_prefix, get_package_share_directory
    from arm_sim.nodes.arm_sim import DRIVER_PUB_QOS
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Header
    from vla_common.qos import COMMAND_QOS, LATCHED_QOS
    from vla_msgs.msg import ArmCommand, Instruction, SafetyState
    from vla_msgs.srv import Estop
    from vla_testing.ros import call_service, MessageCollector, wait_for_subscribers

    def executable(name):
        return str(pathlib.Path(get_package_prefix('arm_sim')) / 'lib' / 'arm_sim' / name)

    share = pathlib.Path(get_package_share_directory('arm_sim')) / 'config'
    sim = node_processes([executable('arm_sim'), '--ros-args', '--params-file',
                          str(share / 'arm_sim.param.yaml'), '-p', 'task:=red_cup_left'],
                         'arm_sim')
    sim.wait_for_output('arm_sim ready', timeout=120)
    args = {'arm_model': 'RM75', 'voice': 'false', 'policy': 'false'}
    launch = LaunchProcess('vla_bringup', 'arm.launch.py',
                           dict(args, sigterm_timeout='30', sigkill_timeout='10'),
                           launch_overlay.env, str(tmp_path / 'launch.log'))
    expected = {n.name for n in arm_stack(**args).runnable_here()}
    node = ros.create_node('arm_operator')
    states = MessageCollector(node, SafetyState, 'safety_gate/state', LATCHED_QOS)
    joints = MessageCollector(node, JointState, 'joint_states', DRIVER_PUB_QOS)
    launch.start()
    pids = []
    try:
        wait_for(lambda: launch.check() is None and expected <= set(node.get_node_names()),
                 240, what=f'{sorted(expected)} up under launch')
        pids = descendants(launch.proc.pid)
        states.wait(1, timeout=120, predicate=lambda s: not s.reasons
                    & SafetyState.REASON_JOINT_STATE_TIMEOUT)
        assert states.last.state == SafetyState.STATE_ESTOP
        assert states.last.reasons & SafetyState.REASON_STARTUP, 'the arm starts latched'
        # The operator resets with a live heartbeat and a zero command (the gate refuses a
        # reset otherwise); the scripted expert then stands in for the policy (policy:=false)
        # and starts commanding once the instruction starts the episode.
        hold = {'on': True}

        def operator_tick():
            node_heartbeat.publish(Header(stamp=node.get_clock().now().to_msg()))
            if hold['on']:
                node_cmd.publish(ArmCommand(mode=ArmCommand.MODE_END_EFFECTOR_DELTA,
                                            ee_delta=[0.0] * 6))

        node_heartbeat = node.create_publisher(Header, 'heartbeat', COMMAND_QOS)
        node_cmd = node.create_publisher(ArmCommand, 'arm_cmd_in', COMMAND_QOS)
        node.create_timer(0.05, operator_tick)
        states.wait(1, timeout=120, predicate=lambda s: not s.reasons
                    & SafetyState.REASON_HEARTBEAT_LOST)
        q0 = list(joints.wait(1, timeout=30).position)
        reply = call_service(node, Estop, 'safety_gate/reset_estop',
                             Estop.Request(reason='launch test'), timeout=60)
        assert reply.success, reply.message
        hold['on'] = False
        node_processes([executable('arm_expert'), '--ros-args', '--params-file',
                        str(share / 'arm_expert.param.yaml')], 'arm_expert')
        instruction = node.create_publisher(Instruction, 'instruction', LATCHED_QOS)
        wait_for_subscribers(instruction, 1, timeout=60)
        instruction.publish(Instruction(id='ins-arm-1', text='빨간 컵을 왼쪽으로 옮겨 주세요'))
        joints.wait(1, timeout=120, predicate=lambda m: max(
            abs(a - b) for a, b in zip(m.position, q0)) > 0.02)
        assert launch.check() is None, launch.output()[-3000:]
    finally:
        launch.stop()
    _ended_cleanly(launch, expected, pids)


def test_arm_mujoco_under_launch_service_with_the_shipped_model(launch_overlay, ros_domain,
                                                                tmp_path):
    """arm.launch.py sim:=mujoco: arm_sim, the gate, the policy with the shipped arm model,
    the bridge and the instruction node under a real LaunchService. A Korean instruction: the
    policy moves the arm through gate -> bridge -> rm_driver topics, the episode ends with
    the simulator's verdict (by the policy, or its time limit), inside the workspace box and
    without the driver's hard stop; SIGINT ends every process launch started."""
    from vla_bringup.arm_session import ArmEpisodeSession
    from vla_bringup.stacks import default_arm_model_path

    model = default_arm_model_path()
    assert model, 'models/nano_arm ships with vla_bringup'
    task, seed = 'reach_yellow_block', 3       # a reach: about 5 s of sim time
    args = {'sim': 'mujoco', 'task': task, 'seed': str(seed), 'voice': 'false'}
    stack = arm_stack(**args)
    assert dict(stack.node('policy_node').parameters)['model_path'] == model
    with _under_launch('arm.launch.py', args, stack, ArmEpisodeSession, launch_overlay,
                       tmp_path) as (session, launch, _):
        report = session.run_episode(task, seed, '노란 블록 위로 손을 옮기세요', model,
                                     timeout=240)
        assert report.outcome in ('success', 'failed', 'timed_out'), (
            report.outcome + '\n' + launch.output()[-4000:])
        assert report.ended_by in ('policy', 'timeout')
        assert report.inferences > 0 and not report.policy_error
        extent = max(hi - lo for lo, hi in zip(report.tcp_min, report.tcp_max))
        assert extent > 0.03, f'the tool point moved only {extent:.3f} m'
        assert not report.workspace_violation and report.hard_stops == 0
        assert report.commands_ignored == 0
