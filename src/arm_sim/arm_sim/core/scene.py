"""Tabletop scenes: object sizes, and the seeded placement of one task's scene (pure).

Frames: the arm base frame is the world frame; the table top is the plane z = 0 and the arm
stands on it at the origin, +x away from the base, +y to the robot's left.

`make_scene(task, seed, placement)` places the objects of the task's family from
`numpy.random.default_rng(placement_key(...))`, with a fixed number of draws. In the `plain`
and `collect` namespaces the key is the family's, so every task of a family gets the same
layout for a seed (red_cup_left and red_cup_right differ only in the words) and nothing in
the layout depends on the words; `evaluate` gives every task its own placements. No seed of
one namespace draws another's (`placement_key`): evaluation placements are held out by
construction. Every object the arm has to
reach lies inside the arm stack's workspace box and within 0.42 m of the base, where the
RM65/RM75 reach the table with the tool pointing down (their 0.256 m + 0.21 m arm straightens
at ~0.44 m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from vla_common.arm_tasks import arm_task, ArmTask, OBJECTS, TASK_NAMES

FAMILIES: Tuple[str, ...] = ('move', 'tray', 'plate', 'reach')

# Object sizes (m).
CUP_RADIUS = 0.025
CUP_HEIGHT = 0.07
BLOCK_SIZE = 0.04
TRAY_SIZE = (0.16, 0.12)     # outer x, y
TRAY_WALL = (0.008, 0.025)   # thickness, height above the table
TRAY_FLOOR = 0.006
PLATE_RADIUS = 0.055
PLATE_HEIGHT = 0.008

#: Placement namespaces of the seeds: `plain` (demos, tests, golden bags), `collect`
#: (demonstrations), `evaluate` (held-out evaluation).
PLACEMENTS: Tuple[str, ...] = ('plain', 'collect', 'evaluate')
_PLACEMENT_WORD = 0xA5A5A5A5     # first word of a namespaced key; plain seeds stay below 2**31
MAX_SEED = 2 ** 31 - 1

#: Seconds of sim time an episode may run after its first instruction.
TIME_LIMIT = 30.0

#: Tool point of the arm's home pose (m) and the tool orientation the tasks use: tool z
#: pointing down, tool x away from the base (a rotation of pi about x).
HOME_TCP: Tuple[float, float, float] = (0.30, 0.0, 0.25)
DOWN = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


def object_height(name: str) -> float:
    return CUP_HEIGHT if OBJECTS[name][0] == 'cup' else BLOCK_SIZE


def object_footprint(name: str) -> float:
    """Radius of the object's footprint (m)."""
    return CUP_RADIUS if OBJECTS[name][0] == 'cup' else BLOCK_SIZE * math.sqrt(0.5)


@dataclass(frozen=True)
class Placement:
    """Where something stands on the table: centre (x, y) and yaw."""

    x: float
    y: float
    yaw: float = 0.0

    def distance(self, other: 'Placement') -> float:
        return math.hypot(self.x - other.x, self.y - other.y)


@dataclass(frozen=True)
class Scene:
    """One concrete scene: the task, its seed and every object's placement."""

    task: ArmTask
    seed: int
    objects: Dict[str, Placement]
    receptacles: Dict[str, Placement] = field(default_factory=dict)
    time_limit: float = TIME_LIMIT
    placement: str = 'plain'      # the seed's namespace (PLACEMENTS)

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def key(self) -> List[int]:
        """The placement's seed-sequence entropy; other per-episode streams (appearance,
        start pose, expert noise) extend it, so they are namespaced with it."""
        return placement_key(self.task, self.seed, self.placement)

    @property
    def target(self) -> Placement:
        return self.objects[self.task.target]

    def with_time_limit(self, seconds: float) -> 'Scene':
        return replace(self, time_limit=float(seconds))


def placement_key(task: ArmTask, seed: int, placement: str = 'plain') -> List[int]:
    """The numpy seed-sequence entropy of a placement.

    plain: [seed, family]; collect: [W, 1, family, seed]; evaluate: [W, 2, task, seed], with
    W = 0xA5A5A5A5. Plain seeds are below 2**31 < W, so a plain key never starts with W, and
    the namespaced kinds differ in their second word: no seed of one namespace draws the
    placements of another. Seeds outside [0, 2**31) are refused.
    """
    seed = int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f'seed must be in [0, {MAX_SEED}], got {seed}')
    family = FAMILIES.index(task.family)
    if placement == 'plain':
        return [seed, family]
    if placement == 'collect':
        return [_PLACEMENT_WORD, 1, family, seed]
    if placement == 'evaluate':
        return [_PLACEMENT_WORD, 2, TASK_NAMES.index(task.name), seed]
    raise ValueError(f'placement must be one of {PLACEMENTS}, got {placement!r}')


class _Sampler:
    """Uniform draws in a fixed order: the stream position never depends on the values."""

    def __init__(self, key: List[int]) -> None:
        self.rng = np.random.default_rng(key)

    def u(self, low: float, high: float) -> float:
        return float(low + (high - low) * self.rng.uniform())

    def spread(self, names: Sequence[str], x: Tuple[float, float], y: Tuple[float, float],
               min_gap: float, taken: Sequence[Placement] = (), tries: int = 64
               ) -> Dict[str, Placement]:
        """Place `names` uniformly in the box, at least `min_gap` apart (and from `taken`).

        Always draws `tries` candidates per object (fixed stream length); the first one that
        fits is used, else the one farthest from the others.
        """
        out: Dict[str, Placement] = {}
        placed: List[Placement] = list(taken)
        for name in names:
            cands = [Placement(self.u(*x), self.u(*y), self.u(-0.4, 0.4)) for _ in range(tries)]
            best = max(cands, key=lambda c: min((c.distance(p) for p in placed), default=9.0))
            for c in cands:
                if all(c.distance(p) >= min_gap for p in placed):
                    best = c
                    break
            if OBJECTS[name][0] == 'cup':
                best = replace(best, yaw=0.0)
            out[name] = best
            placed.append(best)
        return out


def make_scene(task_name: str, seed: int, time_limit: Optional[float] = None,
               placement: str = 'plain') -> Scene:
    """The scene of `task_name` for `seed` in the `placement` namespace (UnknownTask for a bad
    name, ValueError for a bad seed or namespace)."""
    task = arm_task(task_name)
    s = _Sampler(placement_key(task, seed, placement))
    objects: Dict[str, Placement] = {}
    receptacles: Dict[str, Placement] = {}
    if task.family == 'move':
        cup = Placement(s.u(0.30, 0.36), s.u(-0.03, 0.03))
        # The distractors stand in front of and behind the cup, so both lateral paths (and
        # both destinations, 0.14 m to either side) stay free.
        first_behind = s.u(0.0, 1.0) < 0.5
        behind = Placement(cup.x - s.u(0.085, 0.10), cup.y + s.u(-0.06, 0.06), s.u(-0.4, 0.4))
        front = Placement(cup.x + s.u(0.085, 0.10), cup.y + s.u(-0.06, 0.06), s.u(-0.4, 0.4))
        objects['red_cup'] = cup
        objects['green_cup'] = replace(behind if first_behind else front, yaw=0.0)
        objects['blue_block'] = front if first_behind else behind
    elif task.family == 'tray':
        side = 1.0 if s.u(0.0, 1.0) < 0.5 else -1.0
        receptacles['tray'] = Placement(s.u(0.30, 0.35), side * s.u(0.19, 0.22))
        objects.update(s.spread(('blue_block', 'yellow_block', 'red_cup'), (0.27, 0.39),
                                (-0.09, 0.09), 0.075))
    elif task.family == 'plate':
        receptacles['left_plate'] = Placement(s.u(0.30, 0.36), s.u(0.17, 0.20))
        receptacles['right_plate'] = Placement(s.u(0.30, 0.36), -s.u(0.17, 0.20))
        objects.update(s.spread(('green_cup', 'red_cup', 'blue_block'), (0.27, 0.39),
                                (-0.07, 0.07), 0.075))
    else:  # reach
        objects.update(s.spread(('blue_block', 'yellow_block', 'red_cup'), (0.27, 0.39),
                                (-0.13, 0.13), 0.09))
    scene = Scene(task, int(seed), objects, receptacles, placement=placement)
    return scene if time_limit is None else scene.with_time_limit(time_limit)


def move_destination(scene: Scene, offset: float = 0.14) -> Placement:
    """Where a move task puts its object down (what the expert aims at)."""
    obj = scene.target
    sign = 1.0 if scene.task.goal == 'left' else -1.0
    return Placement(obj.x, obj.y + sign * offset)


def goal_placement(scene: Scene) -> Optional[Placement]:
    """The centre the object should end up at (None for reach tasks)."""
    task = scene.task
    if task.kind == 'move':
        return move_destination(scene)
    if task.kind == 'place':
        return scene.receptacles[task.goal]
    return None


__all__ = ['BLOCK_SIZE', 'CUP_HEIGHT', 'CUP_RADIUS', 'DOWN', 'FAMILIES', 'HOME_TCP',
           'PLACEMENTS', 'PLATE_HEIGHT', 'PLATE_RADIUS', 'Placement', 'Scene', 'placement_key',
           'TIME_LIMIT', 'TRAY_FLOOR',
           'TRAY_SIZE', 'TRAY_WALL', 'goal_placement', 'make_scene', 'move_destination',
           'object_footprint', 'object_height']
