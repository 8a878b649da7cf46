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
                                   HELD_OUT_FLOOR_PATTERNS, HELD_OUT_HUES, perturbation_plan,
                                   RANDOMIZED_BOX_HUES, RANDOMIZED_FLOOR_PATTERNS,
                                   RANDOMIZED_HUES, RANDOMIZED_LIGHT_GAIN,
                                   RANDOMIZED_LIGHT_TINT_MIN, scene_appearance, SUITES,
                                   TRAINING)
from mobile_base.sim.world import MujocoWorld, SimOptions


def hue(rgb):
    return colorsys.rgb_to_hsv(*rgb)[0] * 360.0


def test_without_jitter_the_training_palette_is_the_default_look():
    assert scene_appearance(7, 0.0, 'train', 'train') == Appearance()


def _in(h, band):
    lo, hi = band
    return lo <= h <= hi or lo <= h - 360.0 <= hi


def test_held_out_colours_and_textures_never_occur_in_training():
    # The split is explicit: held-out surfaces draw hues inside HELD_OUT_HUES only, the
    # randomized palette's outside it (boxes also never red), and the bands do not meet.
    assert RANDOMIZED_HUES[1] <= HELD_OUT_HUES[0]
    assert RANDOMIZED_HUES[0] + 360.0 >= HELD_OUT_HUES[1]
    wide = [scene_appearance(s, j, 'randomized', light) for s in range(300)
            for j in (0.6, 1.0) for light in ('train', 'shifted')]
    train = [scene_appearance(s, 1.0, 'train') for s in range(300)]
    held = [scene_appearance(s, j, 'held_out', light) for s in range(300) for j in (0.0, 0.6)
            for light in ('train', 'shifted')]
    sat = lambda rgb: colorsys.rgb_to_hsv(*rgb)[1]   # noqa: E731

    def hues(looks):         # every coloured surface (a grey has no hue)
        return [hue(c) for a in looks for c in (*a.box_colors, a.floor_a, a.floor_b, a.wall)
                if sat(c) > 1e-6]

    assert all(_in(h, RANDOMIZED_HUES) for h in hues(wide))
    assert all(_in(h, HELD_OUT_HUES) for h in hues(held))
    box_hues = [hue(c) for a in wide for c in a.box_colors]
    assert all(RANDOMIZED_BOX_HUES[0] <= h <= RANDOMIZED_BOX_HUES[1] for h in box_hues)
    # ...and it is randomisation, not one look: boxes span the band, greyish to saturated.
    assert max(box_hues) - min(box_hues) > 120.0
    assert min(sat(c) for a in wide for c in a.box_colors) < 0.3
    assert {a.floor_pattern for a in wide} == set(RANDOMIZED_FLOOR_PATTERNS)
    assert {a.floor_pattern for a in held} == set(HELD_OUT_FLOOR_PATTERNS) == {'speckle'}
    assert not set(RANDOMIZED_FLOOR_PATTERNS) & set(HELD_OUT_FLOOR_PATTERNS)
    # The train palette (the shipped model's): boxes below the held-out hues, pale walls.
    train_box = {round(hue(c)) for a in train for c in a.box_colors}
    held_box = {round(hue(c)) for a in held for c in a.box_colors}
    assert max(train_box) < 195 <= min(held_box) and max(held_box) <= 285
    assert {a.floor_pattern for a in train} == {'checker'}
    assert max(sat(a.wall) for a in train) < 0.26 < 0.45 <= min(sat(a.wall) for a in held)
    inst = make_instance('1box_vert_left', 0)
    for palette, band in (('randomized', RANDOMIZED_HUES), ('held_out', HELD_OUT_HUES)):
        found = [hue(p.rgb) for s in range(100) for p in distractors(inst, s, 1.0, palette)]
        assert len(found) == 100 and all(_in(h, band) for h in found)


def test_shifted_lighting_is_outside_the_training_range():
    base = Appearance()
    gain = lambda a: a.light_diffuse / base.light_diffuse   # noqa: E731
    train = [gain(scene_appearance(s, 1.0, 'train', 'train')) for s in range(200)]
    wide = [scene_appearance(s, j, 'randomized', 'train') for s in range(200) for j in (0.6, 1.0)]
    shifted = [scene_appearance(s, 0.6, pal, 'shifted') for s in range(200)
               for pal in ('train', 'randomized')]
    assert 0.75 <= min(train) and max(train) <= 1.25
    lo, hi = RANDOMIZED_LIGHT_GAIN
    assert lo <= min(map(gain, wide)) and max(map(gain, wide)) <= hi
    assert max(map(gain, wide)) - min(map(gain, wide)) > 0.4     # it does vary
    assert all(min(a.light_rgb) >= RANDOMIZED_LIGHT_TINT_MIN for a in wide)
    assert all(gain(a) < lo or gain(a) > hi for a in shifted)
    assert any(gain(a) < lo for a in shifted) and any(gain(a) > hi for a in shifted)
    assert all(min(a.light_rgb) < RANDOMIZED_LIGHT_TINT_MIN for a in shifted)


def test_the_wide_training_randomisation_covers_shift_except_its_looks():
    # What `shift` varies is in the wide collection's range, its palette never is.
    wide, shift = TRAINING['wide'], SUITES['shift']
    assert TRAINING['nominal'] == SUITES['nominal']
    assert all(wide[k] >= shift[k] for k in ('camera_noise', 'camera_blur', 'start_noise_xy',
                                             'start_noise_yaw', 'layout_spread'))
    assert wide['palette'] == 'train' != shift['palette'] and wide['distractor_prob'] > 0.5
    gain = [scene_appearance(s, 0.6, 'train', 'wide').light_diffuse
            / Appearance().light_diffuse for s in range(200)]
    assert 60 < sum(0.75 <= g <= 1.25 for g in gain) < 140   # train's light, or shifted's:
    assert min(gain) < 0.6 and max(gain) > 1.5                # dim-warm and bright-cool


def test_visual_jitter_is_bounded():
    with pytest.raises(ValueError):
        scene_appearance(0, 1.5)


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
            # It draws the simulator's change and replans when it happens (as expert_node).
            expert = ScriptedExpert(inst, change=perturbation_plan(inst, 5, 'mixed'))
            while not w.done and w.episode_time < 40.0:
                w.set_command(expert.act(w.ground_truth_pose(), w.episode_time))
                w.step(25)
            s = w.summary()
            assert expert.change is None and expert.instance.obstacles == w.instance.obstacles
            assert s.success and s.perturbation and s.outcome == Outcome.REACHED, s
            assert all(side == Side.from_name(inst.side) for side in s.passed_sides)
    finally:
        w.close()
