"""The Korean tabletop tasks of the arm: what each task id means (pure data).

One table for everyone who needs the meaning of a task: the arm simulator (which scene it
builds, how it judges success), its scripted expert, the instruction normaliser (which
sentence maps to which task) and the learning loop (which tasks it collects and evaluates).

Left and right are the robot's (REP-103: +y is left, seen from the arm's base looking along
+x). The scene camera faces the robot across the table, so in its image the robot's left is
on the right, as an operator standing there sees it; the words mean the robot's side.

| task | kind | object | goal | canonical Korean |
|---|---|---|---|---|
| red_cup_left | move | red cup | >= 0.10 m to the left | 빨간 컵을 왼쪽으로 옮겨 주세요 |
| red_cup_right | move | red cup | >= 0.10 m to the right | 빨간 컵을 오른쪽으로 옮겨 주세요 |
| blue_block_tray | place | blue block | inside the tray | 파란 블록을 집어서 쟁반에 넣으세요 |
| yellow_block_tray | place | yellow block | inside the tray | 노란 블록을 집어서 쟁반에 넣으세요 |
| green_cup_left_plate | place | green cup | on the left plate | 초록 컵을 왼쪽 접시 위에 놓으세요 |
| green_cup_right_plate | place | green cup | on the right plate | 초록 컵을 오른쪽 접시 위에 놓으세요 |
| reach_blue_block | reach | blue block | gripper above it | 파란 블록 위로 손을 옮기세요 |
| reach_yellow_block | reach | yellow block | gripper above it | 노란 블록 위로 손을 옮기세요 |

Tasks of one `family` share their scene for a given placement seed (the left and right
variants, the two blocks), so only the words tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

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


ARM_TASKS: Tuple[ArmTask, ...] = (
    ArmTask('red_cup_left', 'move', KIND_MOVE, 'red_cup', 'left',
            '빨간 컵을 왼쪽으로 옮겨 주세요', 'move the red cup to the left'),
    ArmTask('red_cup_right', 'move', KIND_MOVE, 'red_cup', 'right',
            '빨간 컵을 오른쪽으로 옮겨 주세요', 'move the red cup to the right'),
    ArmTask('blue_block_tray', 'tray', KIND_PLACE, 'blue_block', 'tray',
            '파란 블록을 집어서 쟁반에 넣으세요', 'put the blue block in the tray'),
    ArmTask('yellow_block_tray', 'tray', KIND_PLACE, 'yellow_block', 'tray',
            '노란 블록을 집어서 쟁반에 넣으세요', 'put the yellow block in the tray'),
    ArmTask('green_cup_left_plate', 'plate', KIND_PLACE, 'green_cup', 'left_plate',
            '초록 컵을 왼쪽 접시 위에 놓으세요', 'put the green cup on the left plate'),
    ArmTask('green_cup_right_plate', 'plate', KIND_PLACE, 'green_cup', 'right_plate',
            '초록 컵을 오른쪽 접시 위에 놓으세요', 'put the green cup on the right plate'),
    ArmTask('reach_blue_block', 'reach', KIND_REACH, 'blue_block', '',
            '파란 블록 위로 손을 옮기세요', 'move the hand above the blue block'),
    ArmTask('reach_yellow_block', 'reach', KIND_REACH, 'yellow_block', '',
            '노란 블록 위로 손을 옮기세요', 'move the hand above the yellow block'),
)

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
           'RECEPTACLES', 'TASKS', 'TASK_NAMES', 'UnknownTask', 'arm_task']
