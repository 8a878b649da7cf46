"""Scripted expert and episode monitor in the pure core (kinematic model, no MuJoCo)."""

import math

import pytest
from mobile_base.core.episode import EpisodeMonitor, Outcome, Side
from mobile_base.core.expert import ExpertConfig, plan_route, ScriptedExpert
from mobile_base.core.geometry import Pose2D
from mobile_base.core.odometry import integrate_twist
from mobile_base.core.scenarios import make_instance
from vla_common.scenarios import SCENARIOS


def run_kinematic(instance, config=None, dt=0.05):
    expert = ScriptedExpert(instance, config)
    monitor = EpisodeMonitor(instance)
    pose, t, commands = instance.start, 0.0, []
    monitor.update(0.0, pose)
    while not monitor.done:
        cmd = expert.act(pose, t)
        commands.append(cmd)
        pose = integrate_twist(pose, cmd, dt)
        t += dt
        monitor.update(t, pose)
    return monitor.summary(), commands


@pytest.mark.parametrize('name', SCENARIOS)
def test_expert_reaches_the_cup_on_the_commanded_side(name):
    for seed in range(6):
        summary, commands = run_kinematic(make_instance(name, seed))
        assert summary.outcome == Outcome.REACHED, (name, seed, summary)
        assert summary.passed_side == summary.commanded_side, (name, seed, summary)
        assert summary.min_clearance > 0.1, (name, seed, summary)   # the safety threshold
        assert 5.0 < summary.time < 20.0
        assert max(max(abs(c.vx), abs(c.vy)) for c in commands) <= 0.4
        assert max(abs(c.wz) for c in commands) <= 1.0


@pytest.mark.parametrize('layout', ['1box_vert', '1box_hori', '2box_vert', '2box_hori'])
def test_left_and_right_commands_have_opposite_lateral_motion(layout):
    left = run_kinematic(make_instance(f'{layout}_left', 2))[1]
    right = run_kinematic(make_instance(f'{layout}_right', 2))[1]
    first_second = slice(0, 20)    # 1 s at 20 Hz
    assert sum(c.vy for c in left[first_second]) > 0.5
    assert sum(c.vy for c in right[first_second]) < -0.5


def test_expert_with_exploration_noise_still_succeeds():
    for seed in range(4):
        config = ExpertConfig(noise_std=0.08, noise_seed=seed)
        summary, _ = run_kinematic(make_instance('1box_vert_right', seed), config)
        assert summary.success, summary


def test_expert_recovers_from_a_start_offset():
    inst = make_instance('1box_hori_left', 0, start_noise=(0.1, 0.1, 0.15))
    summary, _ = run_kinematic(inst)
    assert summary.success


def test_route_passes_on_the_commanded_side():
    inst = make_instance('2box_vert_right', 4)
    route = plan_route(inst)
    assert route[0] == (inst.start.x, inst.start.y) and route[-1] == (inst.cup.x, inst.cup.y)
    assert all(inst.route_coordinates(*p)[1] < -0.3 for p in route[1:-1])


def test_monitor_detects_collision_timeout_and_side():
    inst = make_instance('1box_vert_left', 0)
    ob = inst.obstacles[0]
    mon = EpisodeMonitor(inst)
    mon.update(0.0, Pose2D())
    assert mon.update(1.0, Pose2D(ob.x - 0.2, ob.y, 0.0)) == Outcome.COLLIDED
    assert mon.summary().min_clearance == 0.0

    mon = EpisodeMonitor(inst)
    assert mon.update(inst.time_limit, Pose2D()) == Outcome.TIMED_OUT

    # Passing to the right of the box: the box is on the robot's left.
    mon = EpisodeMonitor(inst)
    mon.update(0.0, Pose2D(ob.x - 1.0, ob.y - 0.6, 0.0))
    mon.update(1.0, Pose2D(ob.x + 1.0, ob.y - 0.6, 0.0))
    assert mon.passed_side == Side.RIGHT
    mon.update(2.0, Pose2D(inst.cup.x, inst.cup.y, 0.0))
    summary = mon.summary()
    assert summary.outcome == Outcome.REACHED and not summary.success
    assert summary.path_length == pytest.approx(2.0 + math.hypot(inst.cup.x - ob.x - 1.0,
                                                                 inst.cup.y - ob.y + 0.6))


def test_the_episode_clock_starts_with_the_task():
    inst = make_instance('1box_vert_left', 0)
    mon = EpisodeMonitor(inst, started=False)
    # Waiting for the operator: no time limit, the reported time stays 0.
    assert mon.update(inst.time_limit + 25.0, Pose2D()) == Outcome.RUNNING
    assert mon.time == 0.0 and not mon.started
    assert mon.start_task(25.0) and not mon.start_task(26.0)   # the first instruction counts
    assert mon.update(25.0 + inst.time_limit - 0.1, Pose2D()) == Outcome.RUNNING
    assert mon.time == pytest.approx(inst.time_limit - 0.1)
    assert mon.update(25.0 + inst.time_limit, Pose2D()) == Outcome.TIMED_OUT
    assert mon.summary().time == pytest.approx(inst.time_limit)


def test_contact_flag_counts_as_collision():
    inst = make_instance('1box_hori_right', 0)
    mon = EpisodeMonitor(inst)
    assert mon.update(0.1, Pose2D(), contact=True) == Outcome.COLLIDED
