"""The README's main job: the `demo` executable `scripts/demo.sh` runs, end to end (the mobile
stack, and `--robot arm`).

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


# A reach: the shortest episode (about 5 s of sim time against 20-30 s for a pick and place)
# that still runs every process of the chain and lets the policy end its task.
ARM_DEMO_TASK, ARM_DEMO_SEED = 'reach_yellow_block', 0


def test_arm_demo_runs_the_shipped_model_and_writes_its_record(ros_domain, tmp_path):
    """`scripts/demo.sh --robot arm`: arm_sim in real time, the arm gate, the policy with the
    shipped arm model, the RealMan bridge and the instruction node; the episode ends (the
    policy's DONE or the simulator's time limit) with the simulator's verdict. Files:
    result.json, top_view.png, an mcap bag. (The shipped model's success rate is its model
    card's business, not this test's.)"""
    out = tmp_path / 'arm'
    result = run_demo(out, '--robot', 'arm', '--task', ARM_DEMO_TASK, '--seed',
                      str(ARM_DEMO_SEED), timeout=240.0)
    assert result.returncode == 0
    record = json.loads((out / 'result.json').read_text(encoding='utf-8'))
    assert record['task'] == ARM_DEMO_TASK and record['seed'] == ARM_DEMO_SEED
    assert record['model'].endswith('nano_arm')
    assert record['inferences'] > 0 and record['policy_error'] == ''
    assert record['outcome'] in ('success', 'failed', 'timed_out'), record
    assert record['ended_by'] in ('policy', 'timeout'), record
    if record['ended_by'] == 'policy':
        assert record['task_result'] == 'done', record
    assert max(hi - lo for lo, hi in zip(record['tcp_min'], record['tcp_max'])) > 0.03
    assert not record['workspace_violation'] and record['hard_stops'] == 0
    assert (out / 'top_view.png').stat().st_size > 1000
    topics = bag_topics(str(out / 'bag'))
    for topic in ('/camera/image_raw', '/arm_cmd_in', '/arm_cmd', '/rm_driver/movep_canfd_cmd',
                  '/instruction', '/arm_sim/episode_result'):
        assert topics.get(topic, ('', 0))[1] > 0, topic
    if record['ended_by'] == 'policy':
        assert topics['/policy_node/task_result'][1] > 0
