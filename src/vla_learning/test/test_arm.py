"""The arm in the learning loop, pure parts: plans, done labels, the window dataset's done
targets, the robot plugins and the Wilson interval (no ROS, no sim)."""

import numpy as np
import pytest

from arm_sim.core.scene import make_scene
from vla_common.arm_tasks import TASK_NAMES
from vla_learning.common import wilson_interval
from vla_learning.convert import robot_plugin
from vla_learning.data import canonical_text, Episode, WindowDataset
from vla_learning.robots import arm


def test_demonstrations_and_evaluation_are_disjoint_in_placements_and_phrasings():
    plans = arm.plan_episodes(per_task=6)
    ev = arm.plan_evaluation(seeds=6)
    train, held = arm.paraphrase_split()
    assert all(p.instruction in train[p.task] and p.instruction not in held[p.task]
               for p in plans)
    assert all(e['instruction'] in held[e['task']] for e in ev)
    # The same seed numbers, other placements: the namespaces differ by construction.
    for e in ev:
        collected = make_scene(e['task'], e['seed'], placement='collect')
        evaluated = make_scene(e['task'], e['seed'], placement='evaluate')
        assert collected.objects != evaluated.objects
    assert {e['task'] for e in ev} == set(TASK_NAMES)


def test_done_labels_start_at_the_experts_final_hold():
    moving = np.tile([0.004, 0.0, -0.002, 0.0, 0.0, 0.0, 1.0], (5, 1))
    hold = np.zeros((4, 7))
    pause = np.zeros((2, 7))        # a pause with the gripper open mid-task is not the end
    actions = np.concatenate([moving, pause, moving, hold])
    done = arm.done_labels(actions)
    assert done.tolist() == [False] * 12 + [True] * 4
    with pytest.raises(ValueError):
        arm.done_labels(np.concatenate([hold, moving]))     # it never held at the end


def test_windows_carry_the_done_targets_of_their_chunk_steps():
    n = 12
    actions = np.zeros((n, 7), np.float32)
    done = np.arange(n) >= 9
    ep = Episode(0, 'e', 'reach_blue_block', 'train', '파란 블록 위로 손을 옮기세요',
                 np.zeros((n, 8, 8, 3), np.uint8), actions, np.zeros((n, 7), np.float32),
                 done)
    ds = WindowDataset([ep], window_size=1, chunk_size=5, known_targets=arm.KNOWN_TARGETS)
    s = ds[6]
    assert s['done'].shape == (1, 5) and s['done'][0].tolist() == [0, 0, 0, 1, 1]
    assert ds[11]['done'][0].tolist() == [1] * 5         # past the end the task stays done
    assert s['canonical'] == 'move the hand above the blue block'


def test_the_arms_objects_are_known_only_to_the_arm():
    assert canonical_text('파란 블록을 집어서 쟁반에 넣으세요', arm.KNOWN_TARGETS) == \
        'put the blue block in the tray'
    with pytest.raises(ValueError):
        canonical_text('파란 블록을 집어서 쟁반에 넣으세요')   # the mobile robot's targets


def test_robot_plugins_describe_their_datasets():
    mobile, arm_plugin = robot_plugin('mobile'), robot_plugin('arm')
    assert (mobile.ACTION_SPACE, len(mobile.ACTION_NAMES)) == ('base', 3)
    assert (arm_plugin.ACTION_SPACE, len(arm_plugin.ACTION_NAMES)) == ('arm', 7)
    assert arm_plugin.MIRROR is None and arm_plugin.HAS_DONE
    assert not arm_plugin.usable({'success': False}) and arm_plugin.usable({'success': True})
    with pytest.raises(ValueError):
        robot_plugin('drone')


def test_wilson_interval():
    lo, hi = wilson_interval(34, 40)
    assert lo == pytest.approx(0.7089, abs=1e-3) and hi == pytest.approx(0.9291, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-3)


@pytest.mark.parametrize('which', ['collect', 'evaluate'])
def test_lockstep_waits_for_the_controller_and_the_gate_waits_with_it(which, tmp_path):
    """Collection and evaluation pace arm_sim on the controller's own command (the gate may
    forward nothing), and the gate's stalled-clock watchdog outlasts that wait: with the
    gate's default 0.25 s, every command sent after a starved controller's pause was dropped
    (CLOCK_STALLED), so the arm moved less the more loaded the machine was."""
    from vla_bringup.stacks import resolved_parameters
    from vla_common import topics

    stack = (arm.collect_stack() if which == 'collect'
             else arm.evaluation_stack(str(tmp_path), str(tmp_path)))
    sim = resolved_parameters(stack.node('arm_sim'))
    gate = resolved_parameters(stack.node('safety_gate'))
    assert sim['lockstep'] and sim['realtime_factor'] == (0.0 if which == 'collect' else 1.0)
    assert sim['lockstep_topic'] == topics.ARM_CMD_IN      # what the gate reads
    assert gate['time_source'] == 'ros'
    assert gate['clock_timeout'] > sim['lockstep_timeout'] > 1.0
    # The noisy expert gets longer than the task's 30 s; evaluation keeps the task's limit.
    assert sim['time_limit'] == (arm.COLLECT_TIME_LIMIT if which == 'collect' else 0.0)
