"""Regression: the SHIPPED default policy does the task, through the real stack.

Two fixed held-out placements per scenario (seeds 1000 and 1001, never collected) × 8
scenarios = 16 episodes, each with one of the normaliser's HELD-OUT Korean paraphrases
(phrasings no demonstration was recorded with, e.g. 박스를 왼쪽으로 우회해서 컵까지 가세요),
run by `vla_evaluate`'s code path: the mobile stack (mujoco_sim in lockstep on sim time,
safety_gate, policy_node with event triggers, instruction_node) as separate processes over
DDS. The Korean goes instruction_text -> normaliser -> Instruction.canonical -> the policy
(trained with condition_on: canonical), so the whole instruction path is in the loop, as are
the gate's slow-down zone and the trigger/queue execution. The real stack rather than direct
MuJoCo stepping because it fits the CI budget (~6 s per episode here, ~2 min in all) and it
is what the demo runs.
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
                       modes=['event'], timeout=120.0, progress=False,
                       instructions='held_out')
    assert sorted({r['seed'] for r in records}) == list(REGRESSION_SEEDS)
    assert len(records) == 16
    table = results_markdown(records, model)
    assert all(r['side_correct'] for r in records), table
    assert not any(r['outcome'] == 'collided' for r in records), table
    assert all(r['outcome'] == 'reached' for r in records), table
