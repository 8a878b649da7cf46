"""The arm's tabletop instructions: every phrasing of every task, grounding of colour and side,
unknown objects refused, and the navigation reading untouched."""

import pytest
from vla_common.arm_tasks import ARM_TASKS, TASKS
from vla_instruction.core.normalizer import (detect_language, KNOWN_TARGETS, normalize, Status,
                                             TABLETOP_OBJECTS)
from vla_instruction.core.tabletop import ARM_PARAPHRASES, split_arm_paraphrases

ARM = TABLETOP_OBJECTS     # what the arm stack's instruction node knows (config/arm.param.yaml)
ALL = [(task, text) for task, texts in ARM_PARAPHRASES.items() for text in texts]


def test_every_task_has_phrasings_in_korean_english_and_mixed():
    assert set(ARM_PARAPHRASES) == set(TASKS)
    for task in ARM_TASKS:
        texts = ARM_PARAPHRASES[task.name]
        assert texts[0] == task.korean and len(texts) >= 10
        assert len(set(texts)) == len(texts)
        assert {detect_language(t) for t in texts} == {'ko', 'en'}
        assert any(detect_language(t) == 'ko' and any('a' <= c <= 'z' for c in t.lower())
                   for t in texts), f'{task.name}: no mixed phrasing'


@pytest.mark.parametrize('task,text', ALL)
def test_every_phrasing_reads_as_its_task(task, text):
    n = normalize(text, ARM)
    spec = TASKS[task]
    assert n.status is Status.UNDERSTOOD, (text, n.reason)
    assert n.scenario == task, text
    assert (n.canonical, n.canonical_ko) == (spec.english, spec.korean)
    assert n.side == spec.side
    assert n.action == {'move': 'move', 'place': 'place', 'reach': 'reach'}[spec.kind]
    if spec.kind == 'place':
        assert (n.held_object, n.target_object) == (spec.target, spec.goal)
    else:
        assert n.target_object == spec.target


def test_split_is_disjoint_deterministic_and_shared_across_colours_and_sides():
    train, held = split_arm_paraphrases()
    assert (train, held) == split_arm_paraphrases()
    for task in TASKS:
        assert ARM_PARAPHRASES[task][0] in train[task]
        assert held[task] and not set(train[task]) & set(held[task])
        assert sorted(train[task] + held[task]) == sorted(ARM_PARAPHRASES[task])
    # One phrasing is held out for both colours / both sides alike.
    assert [t.replace('파란', '노란').replace('blue', 'yellow') for t in held['blue_block_tray']] \
        == held['yellow_block_tray']
    assert len(held['red_cup_left']) == len(held['red_cup_right'])


@pytest.mark.parametrize('text,task', [
    ('빨간 컵을 왼쪽 말고 오른쪽으로 옮겨 주세요', 'red_cup_right'),
    ('빨간 컵을 왼쪽으로, 아니 오른쪽으로 옮겨 주세요', 'red_cup_right'),
    ('초록 컵을 오른쪽에 있는 접시에 놓아', 'green_cup_right_plate'),
    ('put the yellow block into the tray', 'yellow_block_tray'),
    ('파란 블록 위로 손을 옮겨', 'reach_blue_block'),
    ('노란 큐브 위로 그리퍼를 옮겨 주세요', 'reach_yellow_block'),
])
def test_colour_and_side_grounding(text, task):
    assert normalize(text, ARM).scenario == task


@pytest.mark.parametrize('text,category', [
    ('보라색 컵을 쟁반에 넣으세요', 'unknown_target'),        # a colour the table does not have
    ('빨간 블록을 쟁반에 넣으세요', 'unknown_target'),        # no red block on the table
    ('바나나를 쟁반에 넣으세요', 'unknown_target'),          # an unknown noun
    ('put the banana in the tray', 'unknown_target'),
    ('put the purple cup in the tray', 'unknown_target'),
    ('파란 블록을 왼쪽 접시에 놓으세요', 'not_understood'),    # objects known, no such task
    ('컵을 쟁반에 넣어', 'not_understood'),                  # which cup?
    ('초록 컵을 접시에 놓으세요', 'not_understood'),          # which plate?
    ('빨간 컵을 옮겨 주세요', 'not_understood'),              # where to?
    ('빨간 컵과 파란 블록을 쟁반에 넣으세요', 'conflict'),       # two objects
    ('빨간 컵을 왼쪽으로 옮기지 마세요', 'prohibition'),
    ('빨간 컵을 쟁반에 넣을 수 있어?', 'question'),
    ('빨간 컵을 왼쪽과 오른쪽으로 옮겨 주세요', 'conflict'),
])
def test_refused(text, category):
    n = normalize(text, ARM)
    assert n.status in (Status.REFUSED, Status.NOT_UNDERSTOOD), text
    assert n.category == category, (text, n.reason)
    assert not n.scenario and not n.canonical


def test_stop_words_still_stop_on_the_table():
    assert normalize('빨간 컵 옮기다가 멈춰', ARM).is_stop


def test_each_robot_refuses_the_other_robots_objects():
    arm = normalize('빨간 컵을 왼쪽으로 옮겨 주세요')       # the mobile stack's known targets
    assert arm.status is Status.REFUSED and arm.category == 'unknown_target'
    assert 'red_cup' in arm.reason
    nav = normalize('박스를 왼쪽으로 돌아서 컵까지 가', ARM)
    assert nav.status is Status.REFUSED and nav.category == 'unknown_target'
    assert normalize('박스를 왼쪽으로 돌아서 컵까지 가', KNOWN_TARGETS).scenario == '1box_vert_left'
    # "hand" alone does not make a sentence a tabletop one (the navigation reading decides).
    hand = normalize('go around the left hand side of the box to the cup')
    assert hand.category == 'not_understood' and "'hand'" in hand.reason
