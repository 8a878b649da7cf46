"""The Korean tabletop tasks of the arm: what each task id means (pure, no ROS).

One table for everyone who needs the meaning of a task: the arm simulator (which scene it
builds, how it judges success), its scripted expert, the instruction normaliser (which
sentence maps to which task) and the learning loop (which tasks it collects and evaluates).

Left and right are the robot's (REP-103: +y is left, seen from the arm's base looking along
+x). The scene camera faces the robot across the table, so in its image the robot's left is
on the right, as an operator standing there sees it; the words mean the robot's side.

The table itself is package data, `vla_common/data/arm_tasks.tsv` (one task a line: name,
family, kind, target object, goal, canonical Korean and English); it is read and checked
here at import, so a malformed row fails loudly before anything uses it.

Tasks of one `family` share their scene for a given placement seed (the left and right
variants, the two blocks), so only the words tell them apart.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, fields
from typing import Dict, Optional, Tuple

KIND_MOVE = 'move'      # pick the object and put it down at least `move_distance` to a side
KIND_PLACE = 'place'    # pick the object and put it into / onto a receptacle
KIND_REACH = 'reach'    # bring the open gripper above the object and hold it there

#: Movable objects: name -> (shape, colour word). Cups are cylinders, blocks are cubes.
OBJECTS: Dict[str, Tuple[str, str]] = {
    'red_cup': ('cup', 'red'), 'green_cup': ('cup', 'green'),
    'blue_block': ('block', 'blue'), 'yellow_block': ('block', 'yellow'),
}
#: Receptacles (fixed to the table): the tray and the two plates.
RECEPTACLES: Tuple[str, ...] = ('tray', 'left_plate', 'right_plate')


@dataclass(frozen=True)
class ArmTask:
    """One tabletop task."""

    name: str
    family: str        # tasks of a family share the scene for a seed
    kind: str          # KIND_*
    target: str        # the object to act on (a key of OBJECTS)
    goal: str          # 'left' / 'right' (move), a receptacle (place), '' (reach)
    korean: str        # canonical Korean instruction
    english: str       # canonical English instruction

    @property
    def side(self) -> str:
        """'left', 'right' or '' : the side the words name, if any."""
        if self.goal in ('left', 'right'):
            return self.goal
        if self.goal.endswith('_plate'):
            return self.goal.split('_')[0]
        return ''


TABLE_FILE = 'arm_tasks.tsv'
_COLUMNS = tuple(f.name for f in fields(ArmTask))
#: What the goal of each kind may be.
_GOALS: Dict[str, Tuple[str, ...]] = {KIND_MOVE: ('left', 'right'), KIND_PLACE: RECEPTACLES,
                                      KIND_REACH: ('',)}


def load_tasks(text: Optional[str] = None) -> Tuple[ArmTask, ...]:
    """The shipped task table (or the TSV `text` given), in file order; raises ValueError
    naming the line of a malformed row (wrong column count, an unknown kind or object, a goal
    the kind cannot have, a repeated name, an empty instruction)."""
    if text is None:
        text = importlib.resources.files('vla_common').joinpath(
            'data', TABLE_FILE).read_text(encoding='utf-8')
    tasks: Dict[str, ArmTask] = {}
    header_seen = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith('#'):
            continue
        cells = tuple(line.split('\t'))
        where = f'{TABLE_FILE}:{number}'
        if not header_seen:
            if cells != _COLUMNS:
                raise ValueError(f'{where}: expected the header {_COLUMNS}, got {cells}')
            header_seen = True
            continue
        if len(cells) != len(_COLUMNS):
            raise ValueError(f'{where}: expected {len(_COLUMNS)} tab-separated fields, '
                             f'got {len(cells)}')
        task = ArmTask(*cells)
        if task.kind not in _GOALS:
            raise ValueError(f'{where}: unknown kind {task.kind!r}')
        if task.target not in OBJECTS:
            raise ValueError(f'{where}: unknown object {task.target!r}')
        if task.goal not in _GOALS[task.kind]:
            raise ValueError(f'{where}: a {task.kind} task\'s goal is one of '
                             f'{_GOALS[task.kind]}, got {task.goal!r}')
        if not (task.name and task.family and task.korean and task.english):
            raise ValueError(f'{where}: empty name, family or instruction')
        if task.name in tasks:
            raise ValueError(f'{where}: task {task.name!r} is listed twice')
        tasks[task.name] = task
    if not tasks:
        raise ValueError(f'{TABLE_FILE}: no tasks')
    return tuple(tasks.values())


#: The tasks, in canonical order.
ARM_TASKS: Tuple[ArmTask, ...] = load_tasks()
TASKS: Dict[str, ArmTask] = {t.name: t for t in ARM_TASKS}
TASK_NAMES: Tuple[str, ...] = tuple(t.name for t in ARM_TASKS)


class UnknownTask(ValueError):
    """A task name that is not in the table."""


def arm_task(name: str) -> ArmTask:
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise UnknownTask(f'unknown arm task {name!r}; known: {", ".join(TASK_NAMES)}') \
            from None


__all__ = ['ARM_TASKS', 'ArmTask', 'KIND_MOVE', 'KIND_PLACE', 'KIND_REACH', 'OBJECTS',
           'RECEPTACLES', 'TASKS', 'TASK_NAMES', 'UnknownTask', 'arm_task', 'load_tasks']
