"""Pure cores of arm_sim: scenes, the rm_driver rules, the judge, the expert's plan."""

import math
import pathlib

import numpy as np
import pytest
from vla_common.arm_models import arm_model
from vla_common.arm_tasks import TASK_NAMES, TASKS, UnknownTask
from vla_testing.lint import forbidden_imports

from arm_sim.core import driver
from arm_sim.core.expert import ExpertConfig, plan, ScriptedExpert
from arm_sim.core.judge import (Judge, ObjectState, OUTCOME_FAILED, OUTCOME_RUNNING,
                                OUTCOME_SUCCESS, OUTCOME_TIMED_OUT, Snapshot)
from arm_sim.core.scene import (DOWN, goal_placement, make_scene, move_destination,
                                object_footprint, PLACEMENTS, placement_key)

PKG = pathlib.Path(__file__).resolve().parents[1] / 'arm_sim'


def test_only_nodes_import_ros_and_core_has_no_mujoco():
    files = [f for d in ('core', 'sim') for f in (PKG / d).rglob('*.py')]
    assert len(files) >= 6 and forbidden_imports(files) == []
    assert forbidden_imports(list((PKG / 'core').rglob('*.py')), ('rclpy', 'mujoco')) == []


# --- scenes --------------------------------------------------------------------------------------
def test_at_least_six_tasks_with_colour_and_sides():
    assert len(TASK_NAMES) >= 6
    assert {TASKS[t].side for t in TASK_NAMES} >= {'left', 'right', ''}
    colours = {TASKS[t].target.split('_')[0] for t in TASK_NAMES}
    assert colours >= {'red', 'green', 'blue', 'yellow'}
    assert {TASKS[t].kind for t in TASK_NAMES} == {'move', 'place', 'reach'}


@pytest.mark.parametrize('pair', [('red_cup_left', 'red_cup_right'),
                                  ('green_cup_left_plate', 'green_cup_right_plate'),
                                  ('blue_block_tray', 'yellow_block_tray'),
                                  ('reach_blue_block', 'reach_yellow_block')])
def test_tasks_of_a_family_share_the_scene_for_a_seed(pair):
    for seed in range(5):
        a, b = (make_scene(t, seed) for t in pair)
        assert a.objects == b.objects and a.receptacles == b.receptacles
    assert make_scene(pair[0], 1).objects != make_scene(pair[0], 2).objects


def test_placement_namespaces_are_disjoint_by_construction():
    """No (namespace, seed) key equals another namespace's key (numpy pads keys with zeros),
    whatever the seed: a collected placement is never evaluated."""
    def padded(key):
        return tuple(key) + (0,) * (4 - len(key))

    extremes = (0, 1, 2 ** 31 - 1)
    for task in TASK_NAMES:
        keys = {p: {padded(placement_key(TASKS[task], s, p)) for s in extremes}
                for p in PLACEMENTS}
        for a in PLACEMENTS:
            for b in PLACEMENTS:
                if a < b:
                    assert not keys[a] & keys[b], (task, a, b)
        # Plain keys start below 2**31; namespaced ones with a word above it.
        assert all(k[0] < 2 ** 31 for k in keys['plain'])
        assert all(k[0] >= 2 ** 31 for p in ('collect', 'evaluate') for k in keys[p])
    with pytest.raises(ValueError):
        make_scene('red_cup_left', 2 ** 31)
    with pytest.raises(ValueError):
        make_scene('red_cup_left', 0, placement='test')
    # Collection keeps a family's layout for both sides; evaluation gives each task its own.
    collect = [make_scene(t, 3, placement='collect') for t in ('red_cup_left', 'red_cup_right')]
    assert collect[0].objects == collect[1].objects
    evaluate = [make_scene(t, 3, placement='evaluate') for t in ('red_cup_left', 'red_cup_right')]
    assert evaluate[0].objects != evaluate[1].objects
    assert collect[0].objects != evaluate[0].objects != make_scene('red_cup_left', 3).objects


@pytest.mark.parametrize('task', TASK_NAMES)
@pytest.mark.parametrize('placement', PLACEMENTS)
def test_scenes_are_reachable_and_do_not_overlap(task, placement):
    for seed in range(40):
        scene = make_scene(task, seed, placement=placement)
        assert scene == make_scene(task, seed, placement=placement)     # deterministic
        t = scene.target
        assert 0.24 <= math.hypot(t.x, t.y) <= 0.42, (seed, t)
        goal = goal_placement(scene)
        if goal is not None:
            assert math.hypot(goal.x, goal.y) <= 0.43, (seed, goal)
        names = list(scene.objects)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                gap = scene.objects[a].distance(scene.objects[b])
                assert gap >= object_footprint(a) + object_footprint(b) + 0.01, (seed, a, b)
        if scene.task.kind == 'move':
            dest = move_destination(scene)
            for n, p in scene.objects.items():
                if n != scene.task.target:
                    assert p.distance(dest) > 0.07, (seed, n)


def test_unknown_task_is_refused():
    with pytest.raises(UnknownTask):
        make_scene('purple_cup_left', 0)


# --- rm_driver rules ----------------------------------------------------------------------------
RM75 = arm_model('RM75')
RM65 = arm_model('RM65')


def test_jointpos_units_are_radians_converted_to_degrees():
    ok = driver.check_jointpos(RM75, [0.1] * 7, 7)
    assert isinstance(ok, driver.JointTarget)
    assert ok.joints == pytest.approx((0.1,) * 7, abs=1e-6)
    assert driver.command_to_controller(math.pi) == pytest.approx(180.0, abs=1e-4)
    # /joint_states: the controller's degrees times rm_driver's 0.01745 (not pi/180).
    assert driver.reported_joint(1.0) == pytest.approx(math.degrees(1.0) * 0.01745)
    assert driver.reported_joint(1.0) < 1.0


@pytest.mark.parametrize('joint,dof,code', [
    ([0.1] * 6, 7, driver.ERR_ARRAY_LENGTH),              # short array (the driver reads 7)
    ([0.1] * 7, 6, driver.ERR_ILLEGAL_INPUT),             # dof of another arm
    ([0.1] * 6 + [math.nan], 7, driver.ERR_ILLEGAL_INPUT),
    ([0.1] * 6 + [math.inf], 7, driver.ERR_ILLEGAL_INPUT),
    ([0.1, 2.5, 0, 0, 0, 0, 0], 7, driver.ERR_ANGLE_LIMIT),   # joint2 limit 2.268
])
def test_bad_jointpos_is_ignored_with_a_driver_error(joint, dof, code):
    result = driver.check_jointpos(RM75, joint, dof)
    assert isinstance(result, driver.CommandError) and result.code == code
    assert result.log_text('Movej CANFD').startswith(f'Movej CANFD error code is {code}')


def test_extra_joint_values_are_not_read_like_the_driver():
    result = driver.check_jointpos(RM65, [0.1] * 7, 6)
    assert isinstance(result, driver.JointTarget)
    assert len(result.joints) == 6 and result.ignored_values == 1


def test_pose_and_gripper_rules():
    assert driver.check_pose((0.3, 0, 0.2), (0, 0, 0, 1)) is None
    assert driver.check_pose((0.3, math.nan, 0.2), (0, 0, 0, 1)).code == \
        driver.ERR_ILLEGAL_INPUT
    assert driver.check_pose((0.3, 0, 0.2), (0, 0, 0, 0)) is not None
    assert driver.gripper_opening(1000) == pytest.approx(0.070)
    assert driver.gripper_opening(1) == pytest.approx(0.00007)
    assert isinstance(driver.gripper_opening(0), driver.CommandError)
    assert isinstance(driver.gripper_opening(1001), driver.CommandError)


# --- the judge ----------------------------------------------------------------------------------
def _snap(t, cup, tcp=(0.3, 0.0, 0.25), held=None, opening=0.07, speed=0.0, others=None):
    objects = {'red_cup': ObjectState(cup, 1.0, 0.0),
               'green_cup': ObjectState((0.25, 0.0, 0.035), 1.0, 0.0),
               'blue_block': ObjectState((0.42, 0.0, 0.02), 1.0, 0.0)}
    objects.update(others or {})
    return Snapshot(t, objects, held, tcp, opening, speed)


def _judge(task='red_cup_left'):
    scene = make_scene(task, 0)
    start = {n: (p.x, p.y, 0.035 if 'cup' in n else 0.02) for n, p in scene.objects.items()}
    return scene, Judge(scene, start)


def test_move_success_needs_released_retracted_still_and_the_policy_ending_it():
    scene, judge = _judge()
    c = scene.target
    judge.observe(_snap(1.0, (c.x, c.y, 0.035)))
    judge.observe(_snap(2.0, (c.x, c.y, 0.08), tcp=(c.x, c.y, 0.08), held='red_cup',
                        opening=0.05, speed=1.0))
    end = (c.x, c.y + 0.13, 0.035)
    for k in range(12):       # 1.2 s still, released, retracted
        v = judge.observe(_snap(5.0 + 0.1 * k, end))
    assert v.grasped and v.placed and v.released and v.retracted and v.still and v.success
    assert v.outcome == OUTCOME_RUNNING     # the judge never ends the episode on its own
    final = judge.finish('policy')
    assert final.outcome == OUTCOME_SUCCESS and final.ended_by == 'policy'
    assert judge.observe(_snap(9.0, (0.0, 0.0, 0.0))).outcome == OUTCOME_SUCCESS   # latched


def test_moving_on_after_the_goal_fails_and_wrong_side_is_not_placed():
    scene, judge = _judge()
    c = scene.target
    for k in range(12):
        judge.observe(_snap(1.0 + 0.1 * k, (c.x, c.y + 0.13, 0.035)))
    judge.observe(_snap(3.0, (c.x, c.y + 0.13, 0.035), speed=0.5))    # the arm moves on
    assert judge.finish('policy').outcome == OUTCOME_FAILED
    scene, judge = _judge()
    for k in range(12):
        judge.observe(_snap(1.0 + 0.1 * k, (c.x, c.y - 0.13, 0.035)))
    v = judge.finish('policy')
    assert not v.placed and v.outcome == OUTCOME_FAILED


def test_a_task_the_policy_never_ends_times_out_even_when_placed():
    scene, judge = _judge()
    c = scene.target
    for k in range(12):
        judge.observe(_snap(1.0 + 0.1 * k, (c.x, c.y + 0.13, 0.035)))
    v = judge.finish('timeout')
    assert v.placed and v.outcome == OUTCOME_TIMED_OUT and not v.success


def test_reach_rule():
    scene, judge = _judge('reach_blue_block')
    o = scene.target
    others = {n: ObjectState((p.x, p.y, 0.035 if 'cup' in n else 0.02), 1.0, 0.0)
              for n, p in scene.objects.items()}
    for k in range(12):
        v = judge.observe(Snapshot(1 + 0.1 * k, others, None, (o.x + 0.01, o.y, 0.12), 0.07,
                                   0.0))
    assert v.placed and v.success
    v = judge.observe(Snapshot(3.0, others, None, (o.x + 0.05, o.y, 0.12), 0.07, 0.0))
    assert not v.placed


# --- the expert ---------------------------------------------------------------------------------
@pytest.mark.parametrize('task', TASK_NAMES)
def test_expert_plans_end_with_a_hold(task):
    phases = plan(make_scene(task, 3))
    assert phases[-1].name == 'hold' and phases[-1].duration >= 1.0
    names = [p.name for p in phases]
    if TASKS[task].kind == 'reach':
        assert names == ['approach', 'hold']
    else:
        assert names.index('close') < names.index('carry') < names.index('open') \
            < names.index('retract')


def test_expert_actions_are_per_tick_deltas_within_its_speed():
    scene = make_scene('red_cup_left', 0)
    cfg = ExpertConfig(speed=0.08, control_rate=10.0)
    expert = ScriptedExpert(scene, cfg)
    q_down = (1.0, 0.0, 0.0, 0.0)       # rotation of pi about x: the tool points down
    a = expert.act((0.30, 0.0, 0.25), q_down)
    assert np.linalg.norm(a.delta[:3]) == pytest.approx(0.008, abs=1e-9)    # m per tick
    assert a.delta[3:] == pytest.approx((0, 0, 0), abs=1e-9) and a.gripper == 0.0
    assert np.allclose(DOWN @ DOWN.T, np.eye(3))
