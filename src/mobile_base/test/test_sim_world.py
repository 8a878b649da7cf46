"""The MuJoCo world by direct stepping: motion, camera, scan, collisions, the expert."""

import math

import numpy as np
import pytest
from mobile_base.core.episode import EndedBy, Outcome
from mobile_base.core.scenarios import make_instance, ScenarioDistribution
from mobile_base.sim.runner import run_expert
from mobile_base.sim.world import MujocoWorld, SimOptions
from vla_common.planar import Twist2D
from vla_common.scenarios import SCENARIOS


@pytest.fixture(scope='module')
def world():
    w = MujocoWorld(SimOptions())
    yield w
    w.close()


def box_ahead(distance=1.0, y=0.0, yaw=0.0, size=(0.3, 0.6, 0.35)):
    """A one-box scenario with the box `distance` m in front of the robot."""
    return ScenarioDistribution.from_dict({
        'name': 'test_box', 'instruction': 'test', 'side': 'left',
        'cup': {'x': 4.0, 'y': 0.0},
        'obstacles': [{'size': list(size), 'x': distance, 'y': y, 'yaw': yaw}],
    }).sample(0)


def drive(world, twist, seconds):
    for _ in range(int(round(seconds * 100))):
        world.set_command(twist)
        world.step(5)          # 500 Hz physics, command refreshed at 100 Hz


def test_driving_straight_one_second_at_0_2_moves_0_2_m(world):
    world.reset(box_ahead(3.0))
    drive(world, Twist2D(0.2, 0.0, 0.0), 1.0)
    pose = world.ground_truth_pose()
    assert pose.x == pytest.approx(0.2, abs=0.015)
    assert abs(pose.y) < 1e-6 and abs(pose.yaw) < 1e-6
    assert world.ground_truth_twist().vx == pytest.approx(0.2, abs=1e-3)
    odom = world.odometry_state()
    assert odom.pose.x == pytest.approx(pose.x, abs=2e-3)
    assert world.episode_time == pytest.approx(1.0)


def test_strafe_and_turn_follow_the_body_frame(world):
    world.reset(box_ahead(3.0))
    drive(world, Twist2D(0.0, 0.0, 0.5), 1.0)
    drive(world, Twist2D(), 0.3)                 # let the velocity loop settle
    yaw = world.ground_truth_pose().yaw
    assert yaw == pytest.approx(0.5, abs=0.03)
    start = world.ground_truth_pose()
    drive(world, Twist2D(0.0, 0.2, 0.0), 1.0)   # strafe left in the turned body frame
    end = world.ground_truth_pose()
    heading = math.atan2(end.y - start.y, end.x - start.x)
    assert heading == pytest.approx(yaw + math.pi / 2, abs=0.02)


def test_stale_command_stops_the_base(world):
    world.reset(box_ahead(3.0))
    world.set_command(Twist2D(0.3, 0.0, 0.0))
    world.step_for(0.3)
    assert world.ground_truth_twist().vx > 0.25
    world.step_for(0.5)                 # no new command: older than cmd_timeout 0.5 s
    assert abs(world.ground_truth_twist().vx) < 0.01
    world.set_command(Twist2D(math.nan, 0.0, 0.0))
    world.step_for(0.2)
    assert abs(world.ground_truth_twist().vx) < 1e-3


def test_camera_is_not_blank_and_changes_when_moving(world):
    world.reset(box_ahead(1.2))
    first = world.render()
    assert first.shape == (224, 224, 3) and first.dtype == np.uint8
    assert first.std() > 10.0
    drive(world, Twist2D(0.0, 0.2, 0.0), 1.0)
    moved = world.render()
    assert np.abs(moved.astype(int) - first.astype(int)).mean() > 3.0
    assert np.array_equal(world.render(), moved)     # no motion -> same picture


def test_box_is_seen_ahead_in_the_camera(world):
    world.reset(box_ahead(0.9))
    img = world.render().astype(int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    orange = (r > 150) & (g > 70) & (g < 170) & (b < 110)
    cols = np.nonzero(orange.any(axis=0))[0]
    assert orange.mean() > 0.05
    assert abs(cols.mean() - 112) < 20      # centred in the image


def test_scan_sees_a_box_in_front(world):
    world.reset(box_ahead(1.0, size=(0.3, 0.6, 0.35)))
    ranges = world.scan()
    angles = world.scan_angles
    assert len(ranges) == 360
    front = ranges[np.argmin(np.abs(angles))]
    assert front == pytest.approx(1.0 - 0.15, abs=0.01)      # box near face
    # To the left nothing but the room's wall (2.5 m from the scenario's axis).
    assert ranges[np.argmin(np.abs(angles - math.pi / 2))] == pytest.approx(2.48, abs=0.01)


def test_scan_angles_follow_rep103(world):
    world.reset(box_ahead(0.0, y=1.0, size=(0.6, 0.3, 0.35)))   # box to the left
    ranges = world.scan()
    left = ranges[np.argmin(np.abs(world.scan_angles - math.pi / 2))]
    assert left == pytest.approx(1.0 - 0.15, abs=0.01)
    drive(world, Twist2D(0.0, 0.0, 0.5), math.pi)       # turn to face it (yaw = pi/2)
    ranges = world.scan()
    assert ranges[np.argmin(np.abs(world.scan_angles))] == pytest.approx(0.85, abs=0.03)


def test_driving_into_a_box_is_a_collision(world):
    world.reset(box_ahead(0.8))
    for _ in range(300):
        world.set_command(Twist2D(0.4, 0.0, 0.0))
        world.step(5)
        if world.done:
            break
    summary = world.summary()
    assert summary.outcome == Outcome.COLLIDED
    assert summary.min_clearance == 0.0


def test_the_simulator_judges_but_does_not_stop_the_robot(world):
    # After the end (here: came to rest at the goal) the base keeps obeying its commands:
    # nothing but the controller stops it (hold_after_end is off by default).
    inst = make_instance('1box_vert_left', 0)
    trace = run_expert(world, '1box_vert_left', 0)
    assert trace.summary.success and world.done
    drive(world, Twist2D(0.2, 0.0, 0.0), 0.5)
    assert world.ground_truth_twist().vx == pytest.approx(0.2, abs=0.02)
    assert world.summary().outcome == Outcome.REACHED        # the verdict stands
    assert inst.cup.x - world.ground_truth_pose().x < 0.3 - 0.05

    held = MujocoWorld(SimOptions(hold_after_end=True))
    try:
        held.reset(box_ahead(0.8))
        drive(held, Twist2D(0.4, 0.0, 0.0), 1.5)
        assert held.summary().outcome == Outcome.COLLIDED
        drive(held, Twist2D(0.4, 0.0, 0.0), 0.3)     # the option: held after the end
        assert abs(held.ground_truth_twist().vx) < 0.05
    finally:
        held.close()


def test_reset_keeps_sim_time_running(world):
    world.reset(box_ahead(2.0))
    world.step_for(0.5)
    t = world.time
    world.reset(box_ahead(2.0))
    assert world.time == pytest.approx(t) and world.episode_time == pytest.approx(0.0)
    assert world.odometry_state().pose.x == 0.0


def test_expert_succeeds_in_every_scenario_in_mujoco(world):
    results = []
    for name in SCENARIOS:
        for seed in (0, 1, 2):
            s = run_expert(world, name, seed).summary
            results.append(s)
            assert s.success and s.ended_by == EndedBy.POLICY, s
            assert abs(s.final_error) < 0.03, s
            assert s.min_clearance > 0.1, s
            assert 5.0 < s.time < 20.0, s
    assert len(results) == 24


def test_visual_jitter_changes_colours_not_layout():
    plain = MujocoWorld(SimOptions())
    jittered = MujocoWorld(SimOptions(visual_jitter=1.0))
    try:
        inst = make_instance('1box_vert_left', 4)
        plain.reset(inst)
        jittered.reset(inst)
        a, b = plain.render(), jittered.render()
        assert np.abs(a.astype(int) - b.astype(int)).mean() > 2.0
        assert plain.scan() == pytest.approx(jittered.scan())
    finally:
        plain.close()
        jittered.close()


def test_640x480_option():
    w = MujocoWorld(SimOptions(image_width=640, image_height=480))
    try:
        w.reset(make_instance('2box_hori_right', 0))
        img = w.render()
        assert img.shape == (480, 640, 3) and img.std() > 10.0
    finally:
        w.close()
