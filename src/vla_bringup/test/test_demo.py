"""The README's main job: the `demo` executable `scripts/demo.sh` runs, end to end.

Real processes over DDS (mujoco_sim in real time, safety_gate, policy_node with the shipped
model, instruction_node), as a user runs it: exit status, the printed outcome and the files
it promises (result.json, trajectory.png, an mcap rosbag2 of the run).
"""

import json
import os
import subprocess
import sys

import pytest
from vla_bringup.bags import bag_topics
from vla_bringup.runner import executable_path

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def run_demo(out, *args, timeout=180.0):
    result = subprocess.run([executable_path('vla_bringup', 'demo'), '--out', str(out), *args],
                            capture_output=True, text=True, timeout=timeout, env=os.environ)
    sys.stdout.write(result.stdout[-4000:])
    sys.stderr.write(result.stderr[-4000:])
    return result


def test_demo_reaches_the_cup_and_writes_its_record(ros_domain, tmp_path):
    out = tmp_path / 'run'
    result = run_demo(out, '--scenario', '1box_hori_right', '--seed', '3')
    assert result.returncode == 0
    assert '[demo] outcome       REACHED, ended by policy' in result.stdout
    record = json.loads((out / 'result.json').read_text(encoding='utf-8'))
    assert record['scenario'] == '1box_hori_right' and record['seed'] == 3
    assert record['instruction'] == '박스를 오른쪽으로 피해서 컵까지 가세요'
    # The episode ended because the policy stopped the robot (the simulator only judges):
    # at rest inside the radius, on the commanded side of the box.
    assert record['outcome'] == 'reached' and record['ended_by'] == 'policy', record
    assert record['success'] and record['at_rest'] and record['side_correct'], record
    # ... and the policy itself declared the task complete (its TaskResult for the instruction).
    assert record['task_result'] == 'done', record
    assert abs(record['final_error']) < 0.15, record
    # Safety shaping and overrides are fractions of the task time, not a count.
    assert set(record['safety_time']) == {'free', 'shaping', 'override', 'idle'}
    assert abs(sum(record['safety_time'].values()) - 1.0) < 0.02, record['safety_time']
    assert record['inferences'] > 0 and record['policy_error'] == ''
    assert (out / 'trajectory.png').stat().st_size > 1000
    topics = bag_topics(str(out / 'bag'))
    for topic in ('/camera/image_raw', '/cmd_vel_in', '/cmd_vel', '/instruction'):
        assert topics.get(topic, ('', 0))[1] > 0, topic


def test_demo_with_an_instruction_nobody_understands_holds_still(ros_domain, tmp_path):
    out = tmp_path / 'refused'
    result = run_demo(out, '--scenario', '1box_vert_left', '--instruction', '안녕하세요',
                      '--timeout', '6')
    assert result.returncode == 0      # the run completed; the robot was right not to move
    record = json.loads((out / 'result.json').read_text(encoding='utf-8'))
    assert record['inferences'] == 0 and record['path_length'] < 0.02, record
    assert 'not understood' in record['policy_error'], record
    assert '[demo] policy' in result.stdout
