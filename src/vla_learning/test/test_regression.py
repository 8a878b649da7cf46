"""Regression: the SHIPPED default policy does the task, through the real stack.

Two fixed evaluation placements per scenario (seeds 0 and 1 of the simulator's `evaluate`
namespace, which no collection run can draw) x 8 scenarios = 16 episodes of the `nominal`
suite (the training randomisation), each with one of the normaliser's HELD-OUT Korean
paraphrases (phrasings no demonstration was recorded with), run by `vla_evaluate`'s code
path: the mobile stack (mujoco_sim in real time, safety_gate, policy_node with event
triggers, instruction_node) as separate processes over DDS. The Korean goes
instruction_text -> normaliser -> Instruction.canonical -> the policy, so the whole
instruction path is in the loop, as are the gate's shaping and the trigger/queue execution.
Success is the simulator's judge: the policy itself brought the robot to rest inside the
radius (ended by the policy), no collision, every box on the commanded side.
"""

import os

import pytest

from vla_common.scenarios import SCENARIOS
from vla_learning.common import REGRESSION_SEEDS
from vla_learning.evaluate import evaluate, results_markdown

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def test_shipped_model_reaches_the_cup_on_the_commanded_side(ros_domain, tmp_path):
    from vla_bringup.stacks import default_model_path

    model = default_model_path()
    assert os.path.isfile(os.path.join(model, 'config.json')), \
        f'no shipped model at {model} (run scripts/setup.sh after adding it)'
    records = evaluate(model, str(tmp_path), SCENARIOS, seeds=len(REGRESSION_SEEDS),
                       modes=['event'], suites=['nominal'], seed_base=REGRESSION_SEEDS[0],
                       timeout=120.0, progress=False, instructions='held_out')
    assert sorted({r['seed'] for r in records}) == list(REGRESSION_SEEDS)
    assert len(records) == 16
    table = results_markdown(records, model)
    assert not any(r['ended_by'] == 'collision' for r in records), table
    # The model card's nominal figure is 64/64 (100 %; the interval reaches down to 94 %): a
    # model at 86 % would still fall below 11 of 16 only about 2 % of the time, while one that
    # cannot stop, or takes the wrong side, fails for sure.
    assert sum(r['success'] for r in records) >= 11, table
    assert sum(r['ended_by'] == 'policy' for r in records) >= 11, table
