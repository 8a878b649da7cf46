"""Scripted expert and episode monitor in the pure core (kinematic model, no MuJoCo)."""

import math

import pytest
from mobile_base.core.episode import EndedBy, EpisodeMonitor, GOAL_DISTANCE, Outcome, Side
from mobile_base.core.expert import ExpertConfig, plan_route, ScriptedExpert
from mobile_base.core.geometry import Pose2D
from vla_common.planar import ZERO_TWIST
from mobile_base.core.odometry import integrate_twist
from mobile_base.core.scenarios import make_instance, ScenarioDistribution
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
        assert summary.success and summary.ended_by == EndedBy.POLICY, (name, seed, summary)
        assert summary.sides_correct, (name, seed, summary)
        assert summary.min_clearance > 0.1, (name, seed, summary)   # the safety threshold
        assert abs(summary.final_error) < 0.02, (name, seed, summary)
        assert 5.0 < summary.time < 20.0
        assert max(max(abs(c.vx), abs(c.vy)) for c in commands) <= 0.4
        assert max(abs(c.wz) for c in commands) <= 1.0


def test_expert_decelerates_stops_and_holds():
    summary, commands = run_kinematic(make_instance('2box_hori_left', 3))
    assert summary.outcome == Outcome.REACHED
    moving = [c != ZERO_TWIST for c in commands]
    stop = moving.index(False)
    # Exactly-zero commands come only at the end, and they last until the episode ends.
    assert not any(moving[stop:]) and all(moving[:stop])
    hold = (len(commands) - stop) * 0.05
    assert hold >= 1.0 + 1.0                     # rest_time + stay_time of the judge
    # It brakes: the last second before the stop slows down monotonically to a creep.
    speeds = [math.hypot(c.vx, c.vy) for c in commands[stop - 20:stop]]
    assert speeds[0] > 0.15 and speeds[-1] < 0.1
    assert all(b <= a + 1e-9 for a, b in zip(speeds, speeds[1:]))


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


def drive_path(monitor, points, t0=0.0, dt=0.1):
    """Feed straight-line motion through `points` at 0.2 m/s, then return the time."""
    t = t0
    for a, b in zip(points, points[1:]):
        n = max(1, int(math.ceil(math.hypot(b[0] - a[0], b[1] - a[1]) / (0.2 * dt))))
        for k in range(1, n + 1):
            t += dt
            monitor.update(t, Pose2D(a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n))
    return t


def stand(monitor, point, t, seconds, dt=0.1):
    for _ in range(int(round(seconds / dt))):
        t += dt
        monitor.update(t, Pose2D(*point))
    return t


def goal(inst, distance=GOAL_DISTANCE):
    """The point `distance` before the cup on the line from the start."""
    ax, ay = inst.route_axis
    return (inst.cup.x - distance * ax, inst.cup.y - distance * ay)


def test_monitor_detects_collision_and_timeout():
    inst = make_instance('1box_vert_left', 0)
    ob = inst.obstacles[0]
    mon = EpisodeMonitor(inst)
    mon.update(0.0, Pose2D())
    assert mon.update(1.0, Pose2D(ob.x - 0.2, ob.y, 0.0)) == Outcome.COLLIDED
    assert mon.summary().min_clearance == 0.0 and mon.ended_by == EndedBy.COLLISION

    # Standing still from the start is not "came to rest": nothing was done; it times out.
    mon = EpisodeMonitor(inst)
    stand(mon, (0.0, 0.0), -0.1, inst.time_limit + 0.2)
    assert mon.outcome == Outcome.TIMED_OUT and mon.ended_by == EndedBy.TIMEOUT


def test_judge_success_needs_rest_inside_the_radius_and_the_commanded_side():
    inst = make_instance('1box_vert_left', 0)
    ob = inst.obstacles[0]
    left = [(0.0, 0.0), (ob.x - 0.5, ob.y + 0.6), (ob.x + 0.5, ob.y + 0.6), goal(inst)]
    mon = EpisodeMonitor(inst)
    t = drive_path(mon, left)
    assert mon.outcome == Outcome.RUNNING          # arriving is not the end ...
    t = stand(mon, goal(inst), t, 1.5)
    assert mon.outcome == Outcome.RUNNING          # ... coming to rest (1 s) is, once it stays
    stand(mon, goal(inst), t, 0.7)
    s = mon.summary()
    assert s.outcome == Outcome.REACHED and s.ended_by == EndedBy.POLICY and s.success
    assert s.at_rest and s.final_error == pytest.approx(0.0, abs=1e-6)
    assert s.passed_sides == (Side.LEFT,) and not s.overshoot

    # The same path on the wrong side of the box: at rest at the goal, but no success.
    mon = EpisodeMonitor(inst)
    t = drive_path(mon, [(0.0, 0.0), (ob.x - 0.5, ob.y - 0.6), (ob.x + 0.5, ob.y - 0.6),
                         goal(inst)])
    stand(mon, goal(inst), t, 2.5)
    s = mon.summary()
    assert s.outcome == Outcome.REACHED and s.passed_side == Side.RIGHT and not s.success


def test_judge_stopping_short_overshooting_and_moving_again_fail():
    inst = make_instance('1box_vert_left', 0)
    ob = inst.obstacles[0]
    around = [(0.0, 0.0), (ob.x - 0.5, ob.y + 0.6), (ob.x + 0.5, ob.y + 0.6)]
    # Stopped short: at rest 0.5 m beside the cup (0.58 m from it, the radius is 0.4).
    short = (inst.cup.x - 0.3, inst.cup.y + 0.5)
    mon = EpisodeMonitor(inst)
    stand(mon, short, drive_path(mon, around + [short]), 2.5)
    s = mon.summary()
    assert s.outcome == Outcome.STOPPED_OUTSIDE and s.ended_by == EndedBy.POLICY
    assert not s.success and s.final_error == pytest.approx(math.hypot(0.3, 0.5)
                                                            - GOAL_DISTANCE, abs=1e-6)
    # Overshoot: drove through the cup's place and came back into the radius before stopping.
    mon = EpisodeMonitor(inst)
    past = (inst.cup.x + 0.3, inst.cup.y)
    stand(mon, goal(inst), drive_path(mon, around + [goal(inst), past, goal(inst)]), 2.5)
    s = mon.summary()
    assert s.outcome == Outcome.OVERSHOT and s.overshoot and not s.success
    # Stopping beside the cup at the goal distance, a little past its line, is no overshoot.
    beside = (inst.cup.x + 0.15, inst.cup.y + 0.26)
    mon = EpisodeMonitor(inst)
    stand(mon, beside, drive_path(mon, around + [beside]), 2.5)
    assert mon.summary().success and not mon.summary().overshoot
    # Came to rest at the goal, then drove on: oscillation / driving on is a failure.
    mon = EpisodeMonitor(inst)
    t = stand(mon, goal(inst), drive_path(mon, around + [goal(inst)]), 1.5)
    drive_path(mon, [goal(inst), (inst.cup.x, inst.cup.y + 0.5)], t)
    s = mon.summary()
    assert s.outcome == Outcome.MOVED_AFTER_STOP and not s.success and not s.at_rest
    # Never stopping (circling near the cup) runs into the time limit.
    mon = EpisodeMonitor(inst)
    t = drive_path(mon, around + [goal(inst)])
    while not mon.done:
        t = drive_path(mon, [goal(inst), goal(inst, 0.1), goal(inst)], t)
    assert mon.outcome == Outcome.TIMED_OUT and mon.ended_by == EndedBy.TIMEOUT


def test_judge_checks_every_box_of_a_two_box_layout():
    # Two boxes far enough apart to weave between them (the shipped layouts leave no room).
    inst = ScenarioDistribution.from_dict({
        'name': 'weave', 'instruction': 'test', 'side': 'left', 'cup': {'x': 4.0, 'y': 0.0},
        'obstacles': [{'size': [0.4, 0.25, 0.35], 'x': 1.0}, {'size': [0.4, 0.25, 0.35],
                                                              'x': 2.5}]}).sample(0)
    first, second = inst.obstacles
    weave = [(0.0, 0.0), (first.x - 0.4, first.y + 0.6), (first.x + 0.4, first.y + 0.6),
             (second.x - 0.4, second.y - 0.6), (second.x + 0.4, second.y - 0.6), goal(inst)]
    mon = EpisodeMonitor(inst)
    stand(mon, goal(inst), drive_path(mon, weave), 2.5)
    s = mon.summary()
    # Left of the first box, right of the second: the first alone would call it a success.
    assert s.passed_side == Side.LEFT and s.passed_sides == (Side.LEFT, Side.RIGHT)
    assert s.outcome == Outcome.REACHED and not s.sides_correct and not s.success
    mon = EpisodeMonitor(inst)
    both = [(0.0, 0.0), (first.x - 0.4, first.y + 0.7), (second.x + 0.4, second.y + 0.7),
            goal(inst)]
    stand(mon, goal(inst), drive_path(mon, both), 2.5)
    assert mon.summary().success and mon.summary().passed_sides == (Side.LEFT, Side.LEFT)


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
