"""Shared constants of the learning loop: seeds, paraphrase splits (pure).

The scenario ids come from `vla_common.scenarios`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from typing import Callable, Dict, List, Sequence, Tuple

from mobile_base.sim.scene import SUITES

#: Placement seeds of demonstrations start here, in the simulator's `collect` placement
#: namespace; evaluation draws from the `evaluate` namespace (mobile_base.core.scenarios):
#: no seed of one gives a placement of the other, whatever the numbers.
COLLECT_SEED_BASE = 0
#: Default first seed of evaluation runs (`vla_evaluate --seed-base`) and the regression test.
EVAL_SEED_BASE = 0
REGRESSION_SEEDS: Tuple[int, ...] = (0, 1)

#: The simulator's randomisation during collection (mujoco_sim parameters): the conditions of
#: the `nominal` evaluation suite (mobile_base.sim.scene.SUITES).
TRAINING_RANDOMIZATION: Dict[str, object] = dict(SUITES['nominal'])

#: Paraphrase split shared by collection (train) and evaluation (held out).
PARAPHRASE_HELD_OUT = 0.25
PARAPHRASE_SPLIT_SEED = 0


def paraphrase_split() -> Tuple[Dict[str, List[str]], Dict[str, List[str]]]:
    """(train, held_out) paraphrases per scenario, Korean-only (the robot's language)."""
    from vla_instruction.core.normalizer import split_paraphrases

    train, held = split_paraphrases(PARAPHRASE_HELD_OUT, PARAPHRASE_SPLIT_SEED)
    return _korean(train), _korean(held)


def _korean(table: Dict[str, List[str]]) -> Dict[str, List[str]]:
    out = {}
    for sc, texts in table.items():
        ko = [t for t in texts if any('\uac00' <= ch <= '\ud7a3' for ch in t)]
        out[sc] = ko or list(texts)
    return out


def stable_rng(*parts: object) -> random.Random:
    """A random.Random seeded from a SHA-256 of `parts` (same on every machine/Python)."""
    digest = hashlib.sha256('\x00'.join(str(p) for p in parts).encode('utf-8')).hexdigest()
    return random.Random(int(digest[:16], 16))


def pick_instruction(table: Dict[str, List[str]], scenario: str, seed: int,
                     salt: str = '') -> str:
    """Deterministic choice of one paraphrase of `scenario` for an episode."""
    texts = table[scenario]
    return texts[stable_rng(salt, scenario, seed).randrange(len(texts))]


#: Instruction sets of an evaluation: the held-out paraphrases (default), the train
#: paraphrases or the scenario's / task's canonical sentence.
INSTRUCTION_SETS = ('held_out', 'train', 'canonical')


def eval_instructions(instructions: str,
                      split: Callable[[], Tuple[Dict[str, List[str]], Dict[str, List[str]]]],
                      canonical: Callable[[str], str]) -> Callable[[str, int], str]:
    """How an evaluation episode (scenario or task, seed) is phrased: a paraphrase from the
    held-out or train table of `split()` (the robot's (train, held-out) paraphrases) or
    `canonical(name)`."""
    if instructions not in INSTRUCTION_SETS:
        raise ValueError(f'instructions must be one of {INSTRUCTION_SETS}')
    train, held = split()
    table = held if instructions == 'held_out' else train

    def text(name: str, seed: int) -> str:
        if instructions == 'canonical':
            return canonical(name)
        return pick_instruction(table, name, seed, 'eval')
    return text


def write_json(path: str, data: object) -> None:
    """Write atomically (a half-written marker must never look finished)."""
    tmp = path + '.tmp'
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
    os.replace(tmp, path)


def read_json(path: str) -> object:
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def side_of(scenario: str) -> str:
    return 'left' if scenario.endswith('_left') else 'right'


def parse_list(text: str, allowed: Sequence[str] = ()) -> List[str]:
    items = [s.strip() for s in text.split(',') if s.strip()]
    bad = [s for s in items if allowed and s not in allowed]
    if bad:
        raise ValueError(f'unknown {bad}; known: {list(allowed)}')
    return items


def wilson_interval(successes: int, n: int, z: float = 1.96) -> Tuple[float, float]:
    """The Wilson score interval of a success rate (95 % with z = 1.96); (0, 1) for n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def report_text(lines: List[str], records: Sequence[dict], failure: Callable[[dict], str]) -> str:
    """An evaluation report's markdown: `lines`, then a 'Failures:' list of the unsuccessful
    records (`failure(record)` each), if any."""
    failed = [f'- {failure(r)}' for r in records if not r['success']]
    return '\n'.join(lines + (['', 'Failures:', ''] + failed if failed else [])) + '\n'


#: The robots of the pipeline (vla_learning.robots.<robot>), the default first.
ROBOTS = ('mobile', 'arm')


def add_robot_argument(parser, help_text: str) -> None:
    """The `--robot` option of the pipeline's commands."""
    parser.add_argument('--robot', default=ROBOTS[0], choices=ROBOTS, help=help_text)
