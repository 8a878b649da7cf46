"""Scene randomisation of an episode: looks, lighting, camera effects, distractors, and the
mid-episode change of the layout. Pure numpy (no MuJoCo): the world builds the model from it.

Three colour palettes. `train` is the one the shipped model's demonstrations were collected
under (cardboard-orange and green boxes, grey checker floors, pale walls). `randomized` is the
domain randomisation for the next collection: boxes of any hue from yellow-orange to
cyan-green at any saturation and brightness, checker or plain floors and walls of any hue
outside the held-out band, a wider and faintly tinted light. `held_out` (blue-violet boxes,
speckled teal floors, saturated blue-violet walls: the `shift` suite) is kept apart from both
by construction -- the bands below, tested. Lighting `train` varies brightness and direction
around the default; `shifted` is a dim-warm or bright-cool light outside that range; `wide`
(the `wide` training randomisation) is either, even chance.
Every draw comes from `numpy.random.default_rng([seed, stream])` with a fixed stream per
purpose, so the layout, the look and the change of one episode are independent and
reproducible.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

import numpy as np

from mobile_base.core.scenarios import Obstacle, ScenarioInstance
from vla_common.scenarios import LEFT
from mobile_base.sim.mjcf import Appearance, Prop, RGB

#: Named simulator conditions (mujoco_sim parameters). `nominal` is the randomisation the
#: demonstrations are collected under; `shift` doubles what it varies (box and cup ranges,
#: start noise, camera noise and blur, a distractor always) and swaps the palette and the
#: lighting for ones never used in training; `perturbation` adds a mid-episode change.
#: `vla_evaluate --suite` and `scripts/demo.sh --suite` run them (placements from the
#: `evaluate` namespace).
SUITES = {
    'nominal': {'visual_jitter': 0.6, 'palette': 'train', 'lighting': 'train',
                'camera_noise': 4.0, 'camera_blur': 0.8, 'distractor_prob': 0.5,
                'start_noise_xy': 0.08, 'start_noise_yaw': 0.12, 'layout_spread': 1.0,
                'perturbation': 'none'},
}
SUITES['shift'] = {**SUITES['nominal'], 'palette': 'held_out', 'lighting': 'shifted',
                   'camera_noise': 8.0, 'camera_blur': 1.6, 'distractor_prob': 1.0,
                   'start_noise_xy': 0.16, 'start_noise_yaw': 0.24, 'layout_spread': 2.0}
SUITES['perturbation'] = {**SUITES['nominal'], 'perturbation': 'mixed'}

#: Named collection randomisations (mujoco_sim parameters, `vla_collect --training`).
#: `nominal` is the `nominal` suite's. `wide` randomises what `shift` varies except the
#: held-out looks: the box and cup ranges 2x, start noise 2x, camera noise and blur up to
#: shift's, a distractor three times in four, and `wide` lighting (the train range or, half
#: the time, the dim-warm / bright-cool range of `shifted`) -- over the `train` palette only,
#: never `held_out`. Collections draw `collect` placements whatever the randomisation.
TRAINING = {
    'nominal': dict(SUITES['nominal']),
    'wide': {**SUITES['nominal'], 'lighting': 'wide', 'camera_noise': 8.0, 'camera_blur': 1.6,
             'distractor_prob': 0.75, 'start_noise_xy': 0.16, 'start_noise_yaw': 0.24,
             'layout_spread': 2.0},
}


def suite_parameters(suite: str) -> dict:
    """The mujoco_sim parameters of an evaluation suite: its conditions, placements drawn
    from the `evaluate` namespace (never a collection's)."""
    if suite not in SUITES:
        raise ValueError(f'unknown suite {suite!r}; known: {", ".join(SUITES)}')
    return {**SUITES[suite], 'placement': 'evaluate'}


PALETTES = ('train', 'randomized', 'held_out')
LIGHTINGS = ('train', 'shifted', 'wide')
PERTURBATIONS = ('none', 'box_moved', 'box_added', 'mixed')

#: The split of the looks, explicit. Every hue (degrees, 0..360) the held-out palette draws
#: for a box, floor, wall or distractor lies in HELD_OUT_HUES. The randomized palette draws
#: those from RANDOMIZED_HUES (the rest of the circle: 305..360 and 0..165), boxes from
#: RANDOMIZED_BOX_HUES inside it (never red: the cup is the only red object); the train
#: palette's boxes stay below 195 deg and its walls are nearly grey. Floors: the training
#: palettes use RANDOMIZED_FLOOR_PATTERNS, the held-out one only `speckle`.
HELD_OUT_HUES = (165.0, 305.0)
RANDOMIZED_HUES = (HELD_OUT_HUES[1] - 360.0, HELD_OUT_HUES[0])
RANDOMIZED_BOX_HUES = (25.0, HELD_OUT_HUES[0])
RANDOMIZED_FLOOR_PATTERNS = ('checker', 'plain')
HELD_OUT_FLOOR_PATTERNS = ('speckle',)
#: Diffuse light gain against the default: `train` lighting stays within x0.75-1.25, the
#: randomized palette within RANDOMIZED_LIGHT_GAIN (at visual_jitter 1), and the shifted
#: lighting outside both.
RANDOMIZED_LIGHT_GAIN = (0.7, 1.35)
SHIFTED_LIGHT_GAIN = ((0.45, 0.6), (1.5, 1.8))
#: The randomized palette's light colours keep every channel at or above this; the shifted
#: ones do not.
RANDOMIZED_LIGHT_TINT_MIN = 0.9

# Random streams (second word of the seed sequence); 1 and 3 are the start noise and the
# world's sensor noise.
_LOOK, _CAMERA, _PROPS, _CHANGE = 2, 4, 5, 6

#: Size (length, width, height) of the box that appears mid-episode.
ADDED_BOX = (0.25, 0.25, 0.35)


def _hsv(h_deg: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb((h_deg % 360.0) / 360.0, float(np.clip(s, 0, 1)),
                                  float(np.clip(v, 0, 1)))
    return (r, g, b)


def _hue(rng: np.random.Generator, band: Tuple[float, float]) -> float:
    return float(rng.uniform(*band))


def _box_color(rng: np.random.Generator, palette: str) -> RGB:
    if palette == 'held_out':
        hue = rng.uniform(195.0, 285.0)                  # blue to violet
    elif palette == 'randomized':
        return _hsv(_hue(rng, RANDOMIZED_BOX_HUES), rng.uniform(0.25, 0.9),
                    rng.uniform(0.3, 0.95))
    elif rng.random() < 0.6:
        hue = rng.uniform(20.0, 45.0)                    # cardboard orange / brown
    else:
        hue = rng.uniform(75.0, 150.0)                   # olive to green
    return _hsv(hue, rng.uniform(0.45, 0.8), rng.uniform(0.5, 0.9))


def scene_appearance(seed: int, visual_jitter: float = 0.0, palette: str = 'train',
                     lighting: str = 'train') -> Appearance:
    """The look of an episode. The `train` palette without jitter is the default look; the
    `randomized` one with any jitter draws floors, walls and boxes from its whole range, and
    the jitter (0..1) scales the light's variation."""
    if palette not in PALETTES:
        raise ValueError(f'palette must be one of {PALETTES}, got {palette!r}')
    if lighting not in LIGHTINGS:
        raise ValueError(f'lighting must be one of {LIGHTINGS}, got {lighting!r}')
    if not 0.0 <= visual_jitter <= 1.0:
        raise ValueError(f'visual_jitter must be in [0, 1], got {visual_jitter!r}')
    base = Appearance()
    rng = np.random.default_rng([int(seed), _LOOK])
    amount = float(visual_jitter)
    app = base
    if palette == 'held_out':
        v = rng.uniform(0.45, 0.7)
        hue = rng.uniform(170.0, 220.0)
        app = replace(app, floor_pattern='speckle', floor_repeat=float(rng.uniform(1.0, 2.5)),
                      floor_a=_hsv(hue, rng.uniform(0.15, 0.35), v),
                      floor_b=_hsv(hue, 0.3, v * 0.55),
                      wall=_hsv(rng.uniform(180.0, 300.0), rng.uniform(0.45, 0.7),
                                rng.uniform(0.5, 0.8)),
                      box_colors=tuple(_box_color(rng, palette) for _ in range(4)))
    elif palette == 'randomized' and amount > 0.0:
        v = rng.uniform(0.45, 0.85)
        hue, sat = _hue(rng, RANDOMIZED_HUES), rng.uniform(0.0, 0.35)
        app = replace(app,
                      floor_pattern=str(rng.choice(RANDOMIZED_FLOOR_PATTERNS, p=(0.7, 0.3))),
                      floor_repeat=float(rng.uniform(1.0, 3.0)),
                      floor_a=_hsv(hue, sat, v),
                      floor_b=_hsv(hue, sat, v - rng.uniform(0.1, 0.25)),
                      wall=_hsv(_hue(rng, RANDOMIZED_HUES), rng.uniform(0.0, 0.55),
                                rng.uniform(0.55, 0.95)),
                      box_colors=tuple(_box_color(rng, palette) for _ in range(4)))
    elif amount > 0.0:
        v = rng.uniform(0.6, 0.85)
        hue, sat = rng.uniform(20.0, 60.0), amount * rng.uniform(0.0, 0.2)
        wall_hue = rng.uniform(-60.0, 180.0)               # anything but blue-violet
        app = replace(app, floor_repeat=float(2.0 + amount * rng.uniform(-0.5, 1.0)),
                      floor_a=_hsv(hue, sat, v),
                      floor_b=_hsv(hue, sat, v - rng.uniform(0.1, 0.2)),
                      wall=_hsv(wall_hue, amount * rng.uniform(0.0, 0.25),
                                rng.uniform(0.65, 0.95)),
                      box_colors=tuple(_box_color(rng, palette) for _ in range(4)))
    if amount > 0.0 or palette == 'held_out':
        tint = amount * rng.uniform(-0.04, 0.04, size=3)
        cup = tuple(float(np.clip(c * (1.0 + amount * rng.uniform(-0.12, 0.12)) + t, 0, 1))
                    for c, t in zip(base.cup, tint))
        app = replace(app, cup=(cup[0], cup[1], cup[2]),
                      sky_top=_hsv(rng.uniform(195.0, 225.0), rng.uniform(0.2, 0.5),
                                   rng.uniform(0.75, 0.95)))
    gain = 1.0 + amount * rng.uniform(-0.25, 0.25)
    light = dict(light_diffuse=float(base.light_diffuse * gain),
                 ambient=float(base.ambient * (1.0 + amount * rng.uniform(-0.25, 0.25))),
                 light_dir=(float(rng.uniform(-0.6, 0.6) * amount + 0.3),
                            float(rng.uniform(-0.6, 0.6) * amount + 0.2), -1.0))
    if palette == 'randomized' and amount > 0.0:
        # A wider light than `train` lighting, faintly tinted.
        gain = 1.0 + amount * (rng.uniform(*RANDOMIZED_LIGHT_GAIN) - 1.0)
        tint_rgb = 1.0 - amount * rng.uniform(0.0, 1.0 - RANDOMIZED_LIGHT_TINT_MIN, size=3)
        light.update(light_diffuse=float(base.light_diffuse * gain),
                     light_rgb=(float(tint_rgb[0]), float(tint_rgb[1]), float(tint_rgb[2])))
    if lighting == 'shifted' or (lighting == 'wide' and rng.random() < 0.5):
        # Outside the `train` range: dim and warm, or bright and cool.
        dim = rng.random() < 0.5
        light.update(light_diffuse=float(base.light_diffuse * rng.uniform(
                         *SHIFTED_LIGHT_GAIN[0 if dim else 1])),
                     ambient=float(base.ambient * rng.uniform(0.6, 0.75)),
                     light_rgb=(1.0, 0.82, 0.6) if dim else (0.72, 0.85, 1.0))
    return replace(app, **light)


def camera_effects(seed: int, camera_noise: float, camera_blur: float) -> Tuple[float, float]:
    """(noise std in 8-bit units, blur sigma in px at 224 px) of an episode: each drawn
    uniformly from [0, its maximum]."""
    rng = np.random.default_rng([int(seed), _CAMERA])
    return float(rng.uniform(0.0, camera_noise)), float(rng.uniform(0.0, camera_blur))


def apply_camera_effects(rgb: np.ndarray, noise: float, blur: float,
                         rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur (sigma scaled to the image width) then Gaussian pixel noise."""
    out = rgb
    if blur > 0.0:
        import cv2

        sigma = blur * rgb.shape[1] / 224.0
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma, sigmaY=sigma)
    if noise > 0.0:
        noisy = out.astype(np.float32) + rng.normal(0.0, noise, out.shape).astype(np.float32)
        out = np.clip(noisy, 0.0, 255.0).astype(np.uint8)
    return out


def distractors(instance: ScenarioInstance, seed: int, probability: float,
                palette: str = 'train') -> List[Prop]:
    """With `probability`, one small object beside the route (below the scan plane, no
    collisions, never red; hues of its palette): something to look at that is neither a box
    nor the cup."""
    rng = np.random.default_rng([int(seed), _PROPS])
    if probability <= 0.0 or rng.random() >= probability:
        return []
    cup_along, _ = instance.route_coordinates(instance.cup.x, instance.cup.y)
    along = rng.uniform(0.4, max(0.5, cup_along - 0.2))
    lateral = rng.choice([-1.0, 1.0]) * rng.uniform(1.05, 1.6)
    ax, ay = instance.route_axis
    x = instance.start.x + along * ax - lateral * ay
    y = instance.start.y + along * ay + lateral * ax
    if palette == 'held_out':
        hue = rng.uniform(200.0, 280.0)
    elif palette == 'randomized':
        hue = rng.uniform(40.0, RANDOMIZED_HUES[1])
    else:
        hue = rng.choice([rng.uniform(50.0, 70.0), rng.uniform(160.0, 190.0)])
    rgb = _hsv(hue, rng.uniform(0.4, 0.8), rng.uniform(0.5, 0.9))
    if rng.random() < 0.5:
        return [Prop(float(x), float(y), 'cylinder',
                     (float(rng.uniform(0.04, 0.07)), float(rng.uniform(0.04, 0.07)), 0.0), rgb)]
    half = rng.uniform(0.04, 0.09, size=2)
    return [Prop(float(x), float(y), 'box', (float(half[0]), float(half[1]),
                                             float(rng.uniform(0.03, 0.07))), rgb)]


@dataclass(frozen=True)
class PerturbationPlan:
    """A change of the layout that happens when the robot reaches `trigger_along` (its
    centre's coordinate along the route): obstacle `index` becomes `obstacle` (an index past
    the layout's boxes is a box that appears)."""

    kind: str
    trigger_along: float
    index: int
    obstacle: Obstacle

    def apply(self, obstacles: Sequence[Obstacle]) -> Tuple[Obstacle, ...]:
        boxes = list(obstacles)
        if self.index < len(boxes):
            boxes[self.index] = self.obstacle
        else:
            boxes.append(self.obstacle)
        return tuple(boxes)


def perturbation_plan(instance: ScenarioInstance, seed: int,
                      kind: str = 'none') -> Optional[PerturbationPlan]:
    """The mid-episode change of an episode, or None.

    Both happen to the last box before the cup (the first of one, the second of two) while
    the robot is 0.75-1.0 m before it, and both narrow the way on the commanded side:
    box_moved slides it 0.10-0.18 m sideways into that way; box_added puts a 0.25 m box right
    beside it on that side (0-5 cm gap). mixed: either, even chance.
    """
    if kind not in PERTURBATIONS:
        raise ValueError(f'perturbation must be one of {PERTURBATIONS}, got {kind!r}')
    if kind == 'none' or not instance.obstacles:
        return None
    rng = np.random.default_rng([int(seed), _CHANGE])
    coin = rng.random()           # always drawn: the plan of a kind is the same either way
    if kind == 'mixed':
        kind = 'box_added' if coin < 0.5 else 'box_moved'
    sign = 1.0 if instance.side == LEFT else -1.0
    ax, ay = instance.route_axis
    last = len(instance.obstacles) - 1
    ob = instance.obstacles[last]
    along, lateral = instance.route_coordinates(ob.x, ob.y)
    trigger = float(along - rng.uniform(0.75, 1.0))

    def at(a: float, lat: float) -> Tuple[float, float]:
        return (float(instance.start.x + a * ax - lat * ay),
                float(instance.start.y + a * ay + lat * ax))

    if kind == 'box_moved':
        x, y = at(along, lateral + sign * rng.uniform(0.10, 0.18))
        return PerturbationPlan(kind, trigger, last, replace(ob, x=x, y=y))
    # The box's extent sideways (its corners' lateral coordinates), then the new one beside it.
    lats = [instance.route_coordinates(cx, cy)[1] for cx, cy in ob.corners()]
    edge = max(lats) if sign > 0 else min(lats)
    x, y = at(along + rng.uniform(-0.1, 0.1),
              edge + sign * (0.5 * ADDED_BOX[1] + rng.uniform(0.0, 0.05)))
    yaw = math.atan2(ay, ax) + rng.uniform(-0.2, 0.2)
    added = Obstacle(x, y, float(yaw), *ADDED_BOX)
    return PerturbationPlan('box_added', trigger, len(instance.obstacles), added)
