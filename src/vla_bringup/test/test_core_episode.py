"""The episode report's rules, without ROS."""

import json
import math

import pytest
from vla_bringup.core.episode import (EpisodeReport, reaction_time, safety_class,
                                      safety_time_fractions, TRIGGERS)


def report():
    return EpisodeReport('1box_vert_left', 3, '박스를 왼쪽으로 돌아서 컵까지 가세요', 'm')


@pytest.mark.parametrize('passed, commanded, correct', [
    (['left'], 'left', True), (['right'], 'left', False), (['none'], 'none', False),
    (['none'], 'left', False), ([], 'left', False), (['left', 'left'], 'left', True),
    (['left', 'right'], 'left', False), (['left', 'none'], 'left', False)])
def test_side_is_correct_only_when_every_box_was_passed_on_the_commanded_side(
        passed, commanded, correct):
    r = report()
    r.set_result('reached', 12.5, 2.3, 0.2, passed, commanded, 'policy', correct, True)
    assert (r.outcome, r.time, r.side_correct) == ('reached', 12.5, correct)
    assert r.passed_side == (passed[0] if passed else 'none') and r.passed_sides == passed


def test_safety_time_is_split_into_shaping_overrides_and_idle():
    changes = [(7.0, ['NO_COMMAND']),                      # before the task: the start state
               (10.0, []), (12.0, ['ACCEL_LIMITED']), (13.0, ['OBSTACLE_SLOWDOWN']),
               (15.0, ['OBSTACLE_STOP', 'OBSTACLE_SLOWDOWN']), (16.0, []),
               (18.0, ['COMMAND_TIMEOUT']), (25.0, ['ESTOP'])]   # after the end: ignored
    classes, reasons = safety_time_fractions(changes, 8.0, 20.0)
    assert classes == pytest.approx({'idle': 4.0 / 12, 'free': 4.0 / 12,
                                     'shaping': 3.0 / 12, 'override': 1.0 / 12})
    assert reasons == pytest.approx({'NO_COMMAND': 2 / 12, 'ACCEL_LIMITED': 1 / 12,
                                     'OBSTACLE_SLOWDOWN': 3 / 12, 'OBSTACLE_STOP': 1 / 12,
                                     'COMMAND_TIMEOUT': 2 / 12})
    # Before the first message nothing is known: it is not counted as free.
    classes, _ = safety_time_fractions([(14.0, ['ACCEL_LIMITED'])], 10.0, 20.0)
    assert classes['shaping'] == pytest.approx(0.6) and classes['free'] == 0.0
    assert safety_class(['ESTOP', 'ACCEL_LIMITED']) == 'override'


def test_reaction_is_the_first_command_after_the_first_informed_chunk():
    chunks = [(10.05, 10.0), (10.72, 10.7), (11.06, 11.0)]   # (arrival, observed)
    commands = [10.1, 10.2, 10.6, 10.7, 10.8, 10.9, 11.1]
    assert reaction_time(10.65, chunks, commands) == pytest.approx(10.8 - 10.65)
    assert reaction_time(-1.0, chunks, commands) == -1.0
    assert math.isnan(reaction_time(12.0, chunks, commands))


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
    assert data['final_error'] is None         # NaN is not JSON


def test_arm_outcomes_are_the_messages_codes_and_an_empty_arm_report_is_plain_json():
    from vla_bringup.core.arm_episode import ArmEpisodeReport
    from vla_common.arm_verdict import OUTCOME_CODES
    from vla_msgs.msg import ArmEpisodeResult
    for name, code in OUTCOME_CODES.items():
        assert getattr(ArmEpisodeResult, 'OUTCOME_' + name.upper()) == code
    report = ArmEpisodeReport(task='red_cup_left', seed=0, instruction='x', model='m')
    data = json.loads(report.to_json())      # no Infinity before a result arrives
    assert data['outcome'] == 'not_started' and data['tcp_min'] == data['object_end'] == []
    assert not report.check_workspace((-0.5, -0.5, 0.0), (0.5, 0.5, 0.3))
