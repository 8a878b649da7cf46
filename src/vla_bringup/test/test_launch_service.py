"""The stacks started by a real `LaunchService` (the vendored humble launch / launch_ros), the
way `ros2 launch` starts them on the target.

`mobile.launch.py sim:=mujoco`: every node comes up; an instruction sent long after start-up
(past the scenario's time limit in sim time) still reaches the cup; SIGINT to the launch
process ends every process it started (no orphans).
"""

import math

import pytest
from vla_bringup.session import EpisodeSession
from vla_bringup.stacks import mobile_stack
from vla_msgs.msg import EpisodeResult
from vla_testing.launch_tools import descendants, LaunchProcess
from vla_testing.ros import wait_for

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SCENARIO = '1box_vert_left'


def test_mobile_mujoco_under_launch_service(launch_overlay, ros_domain, tmp_path):
    from mobile_base.core.scenarios import make_instance

    scene = make_instance(SCENARIO, 0)
    args = {'sim': 'mujoco', 'scenario': SCENARIO, 'voice': 'false'}
    # sigterm_timeout (a launch configuration ExecuteProcess reads, default 5 s): how long
    # launch waits after SIGINT before escalating; generous on a loaded 2-core machine, so a
    # node that does not stop by itself is still reported as such.
    launch = LaunchProcess('vla_bringup', 'mobile.launch.py',
                           dict(args, sigterm_timeout='30', sigkill_timeout='10'),
                           launch_overlay.env, str(tmp_path / 'launch.log'))
    stack = mobile_stack(**args)
    session = EpisodeSession(stack, runner=launch)
    pids, expected = [], set()
    try:
        session.start(ready_timeout=240)
        expected = {n.name for n in stack.runnable_here()}
        session.wait_until(lambda: expected <= set(session.node.get_node_names()), 60,
                           f'the nodes {sorted(expected)} in the ROS graph')
        pids = descendants(launch.proc.pid)
        assert len(pids) >= len(expected)
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
        start = session.trajectory[0]
        assert math.dist(start[1:], (scene.cup.x, scene.cup.y)) > scene.success_radius
    finally:
        session.close()  # SIGINT to the launch process only, as Ctrl-C in its terminal
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
