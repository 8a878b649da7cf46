"""Grounding: with the shipped default policy, the words decide the side.

The left and right variants of a scenario with the same placement seed are the same scene
(mobile_base samples the layout independently of the side), so only the Korean instruction
differs. The policy gets both texts the instruction node would publish (the Korean and the
normaliser's canonical form) and reads the one it was trained on (the shipped model: the
canonical form). For every scenario pair and two held-out placements, the first second of
closed-loop driving (direct MuJoCo stepping, `vla_learning.rollout`: the policy node's own
executive, its triggers and chunk blending, at 10 Hz) must move the robot
laterally in opposite directions: commanded linear_y and the resulting lateral displacement,
left > 0 > right (REP-103: +y is left). No ROS processes: this isolates the model's use of
the words.
"""

import os

import numpy as np
import pytest

LAYOUTS = ('1box_vert', '1box_hori', '2box_vert', '2box_hori')
SEEDS = (1000, 1001)


@pytest.fixture(scope='module')
def policy():
    from vla_policy_node.policies import RoboVLMsPolicy

    try:
        from vla_bringup.stacks import default_model_path

        path = default_model_path()
    except Exception:  # noqa: BLE001 - not installed: the source tree
        path = ''
    if not os.path.isfile(os.path.join(path, 'config.json')):
        path = os.path.join(os.path.dirname(__file__), '..', '..', 'vla_bringup', 'models',
                            'nano_base')
    return RoboVLMsPolicy.from_pretrained(path)


@pytest.fixture(scope='module')
def world():
    from mobile_base.sim.world import MujocoWorld

    w = MujocoWorld()
    yield w
    w.close()


def first_second(policy, world, scenario, seed):
    from mobile_base.core.scenarios import make_instance
    from vla_learning.rollout import rollout

    text = make_instance(scenario, seed).instruction
    run = rollout(policy, world, scenario, seed, text, max_time=1.0)
    vy = [a[1] for a in run.actions]
    return float(np.mean(vy)), world.ground_truth_pose().y - run.poses[0][1]


@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('seed', SEEDS)
def test_left_and_right_words_move_the_robot_to_opposite_sides(policy, world, layout, seed):
    vy_l, dy_l = first_second(policy, world, f'{layout}_left', seed)
    vy_r, dy_r = first_second(policy, world, f'{layout}_right', seed)
    msg = (f'{layout} seed {seed}: left vy {vy_l:+.3f} dy {dy_l:+.3f}, '
           f'right vy {vy_r:+.3f} dy {dy_r:+.3f}')
    assert vy_l > 0.02 and vy_r < -0.02, msg
    assert dy_l > 0.01 and dy_r < -0.01, msg
