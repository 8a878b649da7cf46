"""Navigation scenarios: placement geometry, the YAML file format, seeded placement, lookup.

A `ScenarioDistribution` describes a *distribution* of scenes: every number may be given as a
value or as a `[low, high]` range sampled uniformly. `ScenarioDistribution.sample(seed)` turns it
into a concrete `ScenarioInstance` (all positions fixed).

The 8 built-in scenarios are not restated here: which ids exist and what layout, side,
manoeuvre and instruction each one means come from `vla_common.scenarios`; this package holds
only each layout's placement geometry (`scenarios/layouts/<layout>.yaml`). A user scenario is a
full file (geometry plus name, instruction and side) found by name on the search path or
given by path; see docs/mobile_base.md.

Placement draws come from `numpy.random.default_rng(placement_key(seed, placement, side))`
in a fixed order (start, cup, obstacles). In the `plain` and `collect` namespaces the key does
not depend on the commanded side, so `1box_vert_left` and `1box_vert_right` with the same seed
have the same layout: only the instruction differs. That is what lets a policy learn the side
from the words rather than from the picture. The `evaluate` namespace gives each side its own
placements, and no seed of one namespace draws another's (`placement_key`). Start-pose noise
comes from a second stream (the key plus one word) so switching it on never moves the
obstacles.

The scenario frame is the simulator's world frame (published as `map`): the robot starts near
the origin facing +x, the cup is ahead, the obstacles in between.
"""

from __future__ import annotations

import math
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from vla_common.planar import Point
from vla_common.scenarios import AROUND, MANEUVERS, Scenario, scenario, SCENARIOS, SIDES
import yaml

from mobile_base.core.geometry import Pose2D, rectangle_corners

Number = Union[float, int]
RangeLike = Union[Number, Sequence[Number]]


#: Placement namespaces of the seeds. `plain`: numpy's plain seed (demos, tests, golden bags);
#: `collect`: demonstrations (the left and right variant of a layout share a placement, so
#: only the words tell the side); `evaluate`: evaluation (each side its own placement).
#: Disjoint by construction: `placement_key` gives every seed of a namespace a seed sequence
#: entropy no seed of another namespace can have (see its docstring).
PLACEMENTS = ('plain', 'collect', 'evaluate')
_PLACEMENT_WORD = 0x504C4143        # 'PLAC': marks a namespaced key
MAX_SEED = 2 ** 32 - 1


def placement_key(seed: int, placement: str = 'plain', side: str = '') -> List[int]:
    """The numpy seed-sequence entropy of a placement seed.

    plain: [seed]; collect: [PLAC, 1, 0, seed]; evaluate: [PLAC, 2, 1 + side index, seed].
    A SeedSequence pads its entropy with zero words, so [seed] is [seed, 0, 0, 0]: a
    namespaced key has a non-zero second word, so it never equals a plain one, and the two
    namespaced kinds differ in that word. Seeds are 32-bit (a larger one would spill into a
    second word), so every seed outside [0, 2**32) is refused.
    """
    seed = int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise ScenarioError(f'seed must be in [0, {MAX_SEED}], got {seed}')
    if placement == 'plain':
        return [seed]
    if placement == 'collect':
        return [_PLACEMENT_WORD, 1, 0, seed]
    if placement == 'evaluate':
        if side not in SIDES:
            raise ScenarioError(f'evaluation placements need the side ({SIDES}), got {side!r}')
        return [_PLACEMENT_WORD, 2, 1 + SIDES.index(side), seed]
    raise ScenarioError(f'placement must be one of {PLACEMENTS}, got {placement!r}')


class ScenarioError(ValueError):
    """A scenario file or name that cannot be used."""


@dataclass(frozen=True)
class Range:
    """A uniform range [low, high]; low == high is a fixed value."""

    low: float
    high: float

    @classmethod
    def parse(cls, value: RangeLike, what: str) -> 'Range':
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(float(value), float(value))
        if isinstance(value, (list, tuple)) and len(value) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            low, high = float(value[0]), float(value[1])
            if not (math.isfinite(low) and math.isfinite(high)) or high < low:
                raise ScenarioError(f'{what}: range [{low}, {high}] is not low <= high')
            return cls(low, high)
        raise ScenarioError(f'{what}: expected a number or [low, high], got {value!r}')

    def sample(self, rng: np.random.Generator) -> float:
        # Always draw, even for fixed values, so the stream position never depends on them.
        u = float(rng.uniform())
        return self.low + u * (self.high - self.low)

    def widened(self, factor: float) -> 'Range':
        """The range scaled by `factor` about its centre (a fixed value stays fixed)."""
        centre, half = 0.5 * (self.low + self.high), 0.5 * (self.high - self.low) * factor
        return Range(centre - half, centre + half)

    def to_yaml(self) -> Union[float, List[float]]:
        return self.low if self.low == self.high else [self.low, self.high]


@dataclass(frozen=True)
class ObstacleSpec:
    """A box: size (length along its x, width along its y, height) and placement ranges."""

    size: Tuple[float, float, float]
    x: Range
    y: Range
    yaw: Range


@dataclass(frozen=True)
class CupSpec:
    x: Range
    y: Range
    radius: float = 0.06
    height: float = 0.12


@dataclass(frozen=True)
class Obstacle:
    """A placed box in the scenario frame."""

    x: float
    y: float
    yaw: float
    length: float
    width: float
    height: float

    def corners(self) -> List[Point]:
        return rectangle_corners(self.x, self.y, self.yaw, self.length, self.width)


@dataclass(frozen=True)
class Cup:
    x: float
    y: float
    radius: float
    height: float


@dataclass(frozen=True)
class ScenarioInstance:
    """One concrete episode layout."""

    name: str
    seed: int
    instruction: str
    instruction_en: str
    side: str
    maneuver: str
    start: Pose2D
    cup: Cup
    obstacles: Tuple[Obstacle, ...]
    time_limit: float
    success_radius: float
    source: str = ''
    placement: str = 'plain'      # the seed's placement namespace (PLACEMENTS)
    layout_spread: float = 1.0    # box and cup ranges widened by this factor

    @property
    def route_axis(self) -> Tuple[float, float]:
        """Unit vector from the start position to the cup (the 'forward' of the task)."""
        dx, dy = self.cup.x - self.start.x, self.cup.y - self.start.y
        n = math.hypot(dx, dy) or 1.0
        return (dx / n, dy / n)

    def route_coordinates(self, x: float, y: float) -> Tuple[float, float]:
        """(along, lateral) of a point: along the route axis and to its left, from the start."""
        ax, ay = self.route_axis
        dx, dy = x - self.start.x, y - self.start.y
        return (ax * dx + ay * dy, ax * dy - ay * dx)


@dataclass(frozen=True)
class ScenarioDistribution:
    """A scenario's instruction, commanded side and placement ranges; sampled per seed."""

    name: str
    instruction: str
    side: str
    obstacles: Tuple[ObstacleSpec, ...]
    cup: CupSpec
    start_x: Range = Range(0.0, 0.0)
    start_y: Range = Range(0.0, 0.0)
    start_yaw: Range = Range(0.0, 0.0)
    instruction_en: str = ''
    maneuver: str = AROUND
    time_limit: float = 30.0
    success_radius: float = 0.40
    description: str = ''
    source: str = ''
    extra: Dict[str, Any] = field(default_factory=dict, compare=False)

    # --- YAML ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Dict[str, Any], source: str = '',
                  catalog: Optional[Scenario] = None) -> 'ScenarioDistribution':
        """Parse a scenario file, or with `catalog` a layout file of a built-in scenario.

        A layout file holds geometry only: the built-in scenario's name, instruction, side and
        manoeuvre come from its catalog entry and may not be restated in the file.
        """
        where = source or 'scenario'
        if not isinstance(data, dict):
            raise ScenarioError(f'{where}: top level must be a mapping')
        if catalog is not None:
            restated = sorted(_IDENTITY_KEYS & set(data))
            if restated:
                raise ScenarioError(f'{where}: a layout file holds geometry only; {restated} '
                                    'come from vla_common.scenarios')
            data = dict(data, name=catalog.id, instruction=catalog.instruction_ko,
                        instruction_en=catalog.instruction_en, side=catalog.side,
                        maneuver=catalog.maneuver)
        elif data.get('name') in SCENARIOS:
            raise ScenarioError(f'{where}: {data["name"]!r} is a built-in scenario (its layout '
                                'and side come from vla_common.scenarios); give a user '
                                'scenario its own name')
        for key in ('name', 'instruction', 'side', 'cup', 'obstacles'):
            if key not in data:
                raise ScenarioError(f'{where}: missing key {key!r}')
        side = str(data['side']).lower()
        if side not in SIDES:
            raise ScenarioError(f'{where}: side must be one of {SIDES}, got {side!r}')
        maneuver = str(data.get('maneuver', AROUND))
        if maneuver not in MANEUVERS:
            raise ScenarioError(f'{where}: maneuver must be one of {MANEUVERS}')
        obstacles = []
        if not isinstance(data['obstacles'], list) or not data['obstacles']:
            raise ScenarioError(f'{where}: obstacles must be a non-empty list')
        for i, ob in enumerate(data['obstacles']):
            w = f'{where}: obstacles[{i}]'
            if not isinstance(ob, dict):
                raise ScenarioError(f'{w}: must be a mapping')
            size = ob.get('size')
            if not (isinstance(size, (list, tuple)) and len(size) == 3
                    and all(isinstance(v, (int, float)) and v > 0 for v in size)):
                raise ScenarioError(f'{w}: size must be [length, width, height] > 0')
            obstacles.append(ObstacleSpec(
                (float(size[0]), float(size[1]), float(size[2])),
                Range.parse(ob.get('x'), f'{w}.x'), Range.parse(ob.get('y', 0.0), f'{w}.y'),
                Range.parse(ob.get('yaw', 0.0), f'{w}.yaw')))
        cup = data['cup']
        if not isinstance(cup, dict):
            raise ScenarioError(f'{where}: cup must be a mapping')
        cup_spec = CupSpec(Range.parse(cup.get('x'), f'{where}: cup.x'),
                           Range.parse(cup.get('y', 0.0), f'{where}: cup.y'),
                           float(cup.get('radius', 0.06)), float(cup.get('height', 0.12)))
        start = data.get('start', {}) or {}
        known = {'name', 'instruction', 'instruction_en', 'side', 'maneuver', 'cup', 'obstacles',
                 'start', 'time_limit', 'success_radius', 'description'}
        spec = cls(
            name=str(data['name']), instruction=str(data['instruction']), side=side,
            obstacles=tuple(obstacles), cup=cup_spec,
            start_x=Range.parse(start.get('x', 0.0), f'{where}: start.x'),
            start_y=Range.parse(start.get('y', 0.0), f'{where}: start.y'),
            start_yaw=Range.parse(start.get('yaw', 0.0), f'{where}: start.yaw'),
            instruction_en=str(data.get('instruction_en', '')), maneuver=maneuver,
            time_limit=float(data.get('time_limit', 30.0)),
            success_radius=float(data.get('success_radius', 0.40)),
            description=str(data.get('description', '')), source=source,
            extra={k: v for k, v in data.items() if k not in known})
        if spec.time_limit <= 0 or spec.success_radius <= 0:
            raise ScenarioError(f'{where}: time_limit and success_radius must be positive')
        return spec

    def to_dict(self) -> Dict[str, Any]:
        return {
            'name': self.name, 'instruction': self.instruction,
            'instruction_en': self.instruction_en, 'side': self.side, 'maneuver': self.maneuver,
            'description': self.description, 'time_limit': self.time_limit,
            'success_radius': self.success_radius,
            'start': {'x': self.start_x.to_yaml(), 'y': self.start_y.to_yaml(),
                      'yaw': self.start_yaw.to_yaml()},
            'cup': {'x': self.cup.x.to_yaml(), 'y': self.cup.y.to_yaml(),
                    'radius': self.cup.radius, 'height': self.cup.height},
            'obstacles': [{'size': list(o.size), 'x': o.x.to_yaml(), 'y': o.y.to_yaml(),
                           'yaw': o.yaw.to_yaml()} for o in self.obstacles],
        }

    # --- Sampling --------------------------------------------------------------------------
    def sample(self, seed: int,
               start_noise: Tuple[float, float, float] = (0.0, 0.0, 0.0),
               placement: str = 'plain', spread: float = 1.0) -> ScenarioInstance:
        """A concrete layout for `seed` in the `placement` namespace; `start_noise` = std of
        (x, y, yaw) added to the start; `spread` widens the box and cup ranges about their
        centres (2 = twice as wide; the same draws, so a layout only moves outwards)."""
        key = placement_key(seed, placement, self.side)
        if not spread > 0:
            raise ScenarioError(f'spread must be > 0, got {spread}')
        rng = np.random.default_rng(key)
        start = Pose2D(self.start_x.sample(rng), self.start_y.sample(rng),
                       self.start_yaw.sample(rng))
        cup = Cup(self.cup.x.widened(spread).sample(rng),
                  self.cup.y.widened(spread).sample(rng), self.cup.radius, self.cup.height)
        obstacles = tuple(Obstacle(o.x.widened(spread).sample(rng),
                                   o.y.widened(spread).sample(rng),
                                   o.yaw.widened(spread).sample(rng), *o.size)
                          for o in self.obstacles)
        if any(start_noise):
            noise = np.random.default_rng(key + [1]).normal(size=3) * np.asarray(start_noise)
            start = Pose2D(start.x + float(noise[0]), start.y + float(noise[1]),
                           start.yaw + float(noise[2]))
        return ScenarioInstance(
            name=self.name, seed=int(seed), instruction=self.instruction,
            instruction_en=self.instruction_en, side=self.side, maneuver=self.maneuver,
            start=start, cup=cup, obstacles=obstacles, time_limit=self.time_limit,
            success_radius=self.success_radius, source=self.source, placement=placement,
            layout_spread=float(spread))


#: The keys that say which scenario a file is; a built-in layout file must not contain them.
_IDENTITY_KEYS = frozenset({'name', 'instruction', 'instruction_en', 'side', 'maneuver'})


# --- Files and lookup --------------------------------------------------------------------------

def load_scenario_file(path: Union[str, os.PathLike],
                       catalog: Optional[Scenario] = None) -> ScenarioDistribution:
    """Read one scenario YAML file (with `catalog`: the layout file of that built-in)."""
    p = pathlib.Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding='utf-8'))
    except OSError as exc:
        raise ScenarioError(f'cannot read scenario file {p}: {exc}') from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f'{p}: invalid YAML: {exc}') from exc
    return ScenarioDistribution.from_dict(data, source=str(p), catalog=catalog)


def builtin_scenario_dir() -> pathlib.Path:
    """Directory of the shipped scenario data (installed share/ or the source tree)."""
    try:
        from ament_index_python.packages import (get_package_share_directory,
                                                 PackageNotFoundError)
        try:
            share = pathlib.Path(get_package_share_directory('mobile_base')) / 'scenarios'
            if share.is_dir():
                return share
        except PackageNotFoundError:
            pass
    except ImportError:
        pass
    return pathlib.Path(__file__).resolve().parents[2] / 'scenarios'


def scenario_dirs(extra_dirs: Iterable[Union[str, os.PathLike]] = ()) -> List[pathlib.Path]:
    """Search path for scenario names: user directories first, then the shipped ones."""
    dirs = [pathlib.Path(d).expanduser() for d in extra_dirs if str(d)]
    env = os.environ.get('MOBILE_BASE_SCENARIO_PATH', '')
    dirs += [pathlib.Path(d).expanduser() for d in env.split(os.pathsep) if d]
    dirs.append(builtin_scenario_dir())
    return dirs


def list_scenarios(extra_dirs: Iterable[Union[str, os.PathLike]] = ()) -> List[str]:
    """The built-in scenarios in canonical order, then the user files on the search path."""
    names = {p.stem for d in scenario_dirs(extra_dirs) if d.is_dir() for p in d.glob('*.yaml')}
    return list(SCENARIOS) + sorted(names - set(SCENARIOS))


def builtin_scenario(scenario_id: str) -> ScenarioDistribution:
    """One of the 8 built-in scenarios: its catalog entry placed by its layout's geometry."""
    try:
        entry = scenario(scenario_id)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    return load_scenario_file(builtin_scenario_dir() / 'layouts' / f'{entry.layout}.yaml',
                              catalog=entry)


def resolve_scenario(name_or_path: str,
                     extra_dirs: Iterable[Union[str, os.PathLike]] = ()) -> ScenarioDistribution:
    """A scenario by name (a built-in id, or a file on the path) or by YAML file path."""
    text = str(name_or_path).strip()
    if not text:
        raise ScenarioError('empty scenario name')
    if text.endswith(('.yaml', '.yml')) or os.sep in text:
        return load_scenario_file(text)
    if text in SCENARIOS:
        return builtin_scenario(text)
    for d in scenario_dirs(extra_dirs):
        candidate = d / f'{text}.yaml'
        if candidate.is_file():
            spec = load_scenario_file(candidate)
            if spec.name != text:
                raise ScenarioError(f'{candidate}: name {spec.name!r} does not match the file')
            return spec
    known = ', '.join(list_scenarios(extra_dirs))
    raise ScenarioError(f'unknown scenario {text!r}; known: {known}')


def make_instance(name_or_path: str, seed: int,
                  extra_dirs: Iterable[Union[str, os.PathLike]] = (),
                  start_noise: Tuple[float, float, float] = (0.0, 0.0, 0.0),
                  placement: str = 'plain', spread: float = 1.0) -> ScenarioInstance:
    """Shortcut: resolve a scenario and sample it."""
    return resolve_scenario(name_or_path, extra_dirs).sample(seed, start_noise, placement,
                                                             spread)
