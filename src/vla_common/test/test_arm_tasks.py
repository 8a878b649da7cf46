"""The arm's task table (package data): read in order, and a malformed row fails loudly."""

import pytest
from vla_common.arm_tasks import ARM_TASKS, arm_task, load_tasks, TASK_NAMES, UnknownTask

HEADER = 'name\tfamily\tkind\ttarget\tgoal\tkorean\tenglish\n'
ROW = 'red_cup_left\tmove\tmove\tred_cup\tleft\t빨간 컵을 왼쪽으로 옮겨 주세요\tmove the red cup left\n'


def test_the_shipped_table():
    assert TASK_NAMES[:2] == ('red_cup_left', 'red_cup_right') and len(ARM_TASKS) == 8
    assert arm_task('green_cup_right_plate').side == 'right'
    assert arm_task('reach_blue_block').goal == '' and arm_task('reach_blue_block').side == ''
    assert arm_task('blue_block_tray').korean == '파란 블록을 집어서 쟁반에 넣으세요'
    with pytest.raises(UnknownTask, match='known: red_cup_left'):
        arm_task('red_cup_up')


@pytest.mark.parametrize('text, match', [
    ('', 'no tasks'),
    (ROW, 'expected the header'),
    (HEADER + ROW.replace('\tleft\t', '\t'), ':2: expected 7 tab-separated fields, got 6'),
    (HEADER + ROW.replace('\tmove\tred', '\tpush\tred'), "unknown kind 'push'"),
    (HEADER + ROW.replace('\tred_cup\t', '\tred_ball\t'), "unknown object 'red_ball'"),
    (HEADER + ROW.replace('\tleft\t', '\ttray\t'), "goal is one of .*got 'tray'"),
    (HEADER + ROW.replace('\tmove the red cup left', '\t'), 'empty name, family or instruction'),
    (HEADER + '# a comment\n' + ROW + ROW, ":4: task 'red_cup_left' is listed twice"),
])
def test_a_malformed_table_is_refused_with_its_line(text, match):
    with pytest.raises(ValueError, match=match):
        load_tasks(text)
