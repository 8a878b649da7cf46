"""Scene randomisation: palettes kept apart, lighting, camera effects, distractors, and the
mid-episode change of the layout (judged against the new layout, seen by camera and scan)."""

import colorsys

import numpy as np
import pytest
from mobile_base.core.episode import Outcome, Side
from mobile_base.core.expert import ScriptedExpert
from mobile_base.core.scenarios import make_instance
from vla_common.scenarios import SCENARIOS
from mobile_base.sim.mjcf import Appearance
from mobile_base.sim.scene import (apply_camera_effects, camera_effects, distractors,
                                   perturbation_plan, scene_appearance)
from mobile_base.sim.world import MujocoWorld, SimOptions


def hue(rgb):
    return colorsys.rgb_to_hsv(*rgb)[0] * 360.0


def test_without_jitter_the_training_palette_is_the_default_look():
    assert scene_appearance(7, 0.0, 'train', 'train') == Appearance()


def test_held_out_colours_and_textures_never_occur_in_training():
    train = [scene_appearance(s, 1.0, 'train') for s in range(300)]
    held = [scene_appearance(s, 1.0, 'held_out') for s in range(300)]
    train_box = {round(hue(c)) for a in train for c in a.box_colors}
    held_box = {round(hue(c)) for a in held for c in a.box_colors}
    assert max(train_box) < 195 <= min(held_box) and max(held_box) <= 285
    assert {a.floor_pattern for a in train} == {'checker'}
    assert {a.floor_pattern for a in held} == {'speckle'}
    # Training walls are pale (low saturation); held-out walls are saturated.
    sat = lambda rgb: colorsys.rgb_to_hsv(*rgb)[1]   # noqa: E731
    assert max(sat(a.wall) for a in train) < 0.26 < 0.45 <= min(sat(a.wall) for a in held)


def test_shifted_lighting_is_outside_the_training_range():
    base = Appearance().light_diffuse
    train = [scene_appearance(s, 1.0, 'train', 'train').light_diffuse / base
             for s in range(200)]
    shifted = [scene_appearance(s, 1.0, 'train', 'shifted').light_diffuse / base
               for s in range(200)]
    assert 0.75 <= min(train) and max(train) <= 1.25
    assert all(r < 0.75 or r > 1.25 for r in shifted)
    assert any(r < 0.75 for r in shifted) and any(r > 1.25 for r in shifted)


def test_camera_effects_blur_and_add_noise():
    rng = np.random.default_rng(0)
    edge = np.zeros((64, 64, 3), np.uint8)
    edge[:, 32:] = 200
    blurred = apply_camera_effects(edge, 0.0, 2.0, rng)
    assert 0 < blurred[10, 31, 0] < 200 and blurred[10, 0, 0] == 0       # the edge is soft
    noisy = apply_camera_effects(edge, 8.0, 0.0, rng)
    assert 6.0 < noisy[:, 40:].astype(float).std() < 10.0     # away from the 0 clip
    assert camera_effects(3, 0.0, 0.0) == (0.0, 0.0)
    noise, blur = camera_effects(3, 4.0, 0.8)
    assert 0.0 <= noise <= 4.0 and 0.0 <= blur <= 0.8


def test_a_distractor_is_beside_the_route_and_never_red():
    inst = make_instance('1box_vert_left', 0)
    found = [p for s in range(100) for p in distractors(inst, s, 1.0)]
    assert len(found) == 100 and not distractors(inst, 0, 0.0)
    for p in found:
        along, lateral = inst.route_coordinates(p.x, p.y)
        assert abs(lateral) >= 1.05 and 0.4 <= along <= 2.6
        h = hue(p.rgb)
        assert 40.0 < h < 300.0                        # the cup is the only red object
    assert 30 < sum(bool(distractors(inst, s, 0.5)) for s in range(100)) < 70


@pytest.mark.parametrize('kind', ['box_moved', 'box_added'])
def test_perturbations_narrow_the_commanded_side(kind):
    for name in ('1box_hori_left', '2box_vert_right'):
        inst = make_instance(name, 2)
        plan = perturbation_plan(inst, 2, kind)
        sign = 1.0 if inst.side == 'left' else -1.0
        last = inst.obstacles[-1]
        before = inst.route_coordinates(last.x, last.y)
        after = plan.apply(inst.obstacles)
        if kind == 'box_moved':
            assert len(after) == len(inst.obstacles)
            lateral = inst.route_coordinates(after[-1].x, after[-1].y)[1]
            assert 0.1 <= sign * (lateral - before[1]) <= 0.18
        else:
            assert len(after) == len(inst.obstacles) + 1
            lateral = inst.route_coordinates(after[-1].x, after[-1].y)[1]
            assert sign * (lateral - before[1]) > 0.2
        assert 0.75 <= before[0] - plan.trigger_along <= 1.0
    assert perturbation_plan(inst, 2, 'none') is None


@pytest.fixture(scope='module')
def changing_world():
    w = MujocoWorld(SimOptions(perturbation='box_added'))
    yield w
    w.close()


def test_the_change_happens_on_the_way_and_is_judged_against_the_new_layout(changing_world):
    w = changing_world
    inst = w.start('1box_vert_left', 4)
    image0 = w.render()
    scan_before = None
    expert = ScriptedExpert(inst)           # it does not know: it keeps its old route
    while not w.done and w.episode_time < 40.0:
        before = len(w.instance.obstacles)
        if before == 1:
            scan_before = w.scan()
        w.set_command(expert.act(w.ground_truth_pose(), w.episode_time))
        w.step(25)
        if len(w.instance.obstacles) != before:
            # The new box is there for the sensors: more returns on the commanded side.
            assert np.sum(np.isfinite(w.scan()) & (w.scan() < 1.5)) > \
                np.sum(np.isfinite(scan_before) & (scan_before < 1.5))
    s = w.summary()
    assert s.perturbation == 'box_added' and s.perturbation_time > 1.0
    assert len(s.passed_sides) == 2
    # The blind expert brushes or hits the new box, or passes it on the wrong side: the judge
    # sees the box it did not plan for.
    assert not s.success, s
    assert image0.shape == (224, 224, 3)


def test_a_replanning_expert_handles_every_change():
    w = MujocoWorld(SimOptions(perturbation='mixed'))
    try:
        for name in SCENARIOS[::3]:
            inst = w.start(name, 5)
            expert, current, cmd = ScriptedExpert(inst), inst, None
            while not w.done and w.episode_time < 40.0:
                if w.instance is not current:
                    current = w.instance
                    expert = ScriptedExpert(current)
                    expert._last_cmd = cmd
                cmd = expert.act(w.ground_truth_pose(), w.episode_time)
                w.set_command(cmd)
                w.step(25)
            s = w.summary()
            assert s.success and s.perturbation and s.outcome == Outcome.REACHED, s
            assert all(side == Side.from_name(inst.side) for side in s.passed_sides)
    finally:
        w.close()
