"""The episode report's rules, without ROS."""

import json

import pytest
from vla_bringup.core.episode import EpisodeReport, TRIGGERS


def report():
    return EpisodeReport('1box_vert_left', 3, '박스를 왼쪽으로 돌아서 컵까지 가세요', 'm')


@pytest.mark.parametrize('passed, commanded, correct', [
    ('left', 'left', True), ('right', 'left', False), ('none', 'none', False),
    ('none', 'left', False)])
def test_side_is_correct_only_when_the_commanded_side_was_passed(passed, commanded, correct):
    r = report()
    r.set_result('reached', 12.5, 2.3, 0.2, passed, commanded)
    assert (r.outcome, r.time, r.passed_side, r.side_correct) == ('reached', 12.5, passed,
                                                                  correct)


def test_triggers_are_the_episodes_share_of_the_cumulative_counters():
    before = {k: 5 for k in TRIGGERS}
    after = dict(before, instruction=6, queue_low=17)
    r = report()
    r.set_triggers(before, after)
    assert r.triggers == {'instruction': 1, 'queue_low': 12} and r.inferences == 13


def test_json_carries_everything_but_the_trajectory():
    r = report()
    r.trajectory = [[0.0, 0.0, 0.0]]
    data = json.loads(r.to_json())
    assert 'trajectory' not in data and data['instruction'] == r.instruction
