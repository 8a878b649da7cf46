"""`vla_evaluate`: closed-loop evaluation of a checkpoint through the REAL mobile stack.

`vla_bringup.stacks.mobile_stack` (mujoco_sim + safety_gate + policy_node + instruction_node,
separate processes over DDS, sim time), with the simulator in lockstep as fast as possible,
driven by `vla_bringup.session.EpisodeSession`. Placements are HELD OUT (seeds from
EVAL_SEED_BASE, never collected) and instructions are HELD-OUT paraphrases (the normaliser's
held-out split). Each trigger mode (`event`, the policy node's default, and the `periodic`
10 Hz baseline) runs in its own stack. Writes <out>/episodes.jsonl (resumable: finished
episodes are skipped), <out>/results.md (markdown tables) and <out>/results.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
from vla_common.scenarios import SCENARIOS

from vla_learning.common import (EVAL_SEED_BASE, paraphrase_split, parse_list,
                                 pick_instruction)

MODES = ('event', 'periodic')


def eval_params_file(path: str, mode: str, periodic_rate: float = 10.0) -> str:
    """A user parameter file layered over the mobile stack: fast lockstep sim, trigger mode."""
    text = ('mujoco_sim:\n  ros__parameters:\n    realtime_factor: 0.0\n    lockstep: true\n'
            'policy_node:\n  ros__parameters:\n'
            f'    trigger_mode: {mode}\n    periodic_rate: {float(periodic_rate)}\n'
            # Text instructions only: no speech model to load.
            'instruction_node:\n  ros__parameters:\n    voice_enabled: false\n')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


INSTRUCTION_SETS = ('held_out', 'train', 'canonical')


def plan(scenarios: Sequence[str], seeds: int, seed_base: int = EVAL_SEED_BASE,
         instructions: str = 'held_out') -> List[Dict[str, object]]:
    """Episodes: `seeds` placements per scenario; instructions from the normaliser's held-out
    paraphrases (default), its train paraphrases, or the scenario's canonical sentence."""
    if instructions not in INSTRUCTION_SETS:
        raise ValueError(f'instructions must be one of {INSTRUCTION_SETS}')
    train, held = paraphrase_split()
    table = held if instructions == 'held_out' else train

    def text(sc: str, seed: int) -> str:
        if instructions == 'canonical':
            from mobile_base.core.scenarios import make_instance

            return make_instance(sc, seed).instruction
        return pick_instruction(table, sc, seed, 'eval')
    return [{'scenario': sc, 'seed': seed_base + i, 'instruction': text(sc, seed_base + i)}
            for i in range(seeds) for sc in scenarios]


def _key(mode: str, ep: Dict[str, object]) -> str:
    return f'{mode}/{ep["scenario"]}/{ep["seed"]}/{ep["instruction"]}'


def load_done(path: str) -> Dict[str, dict]:
    done: Dict[str, dict] = {}
    if os.path.isfile(path):
        with open(path, encoding='utf-8') as f:
            for line in f:
                if line.strip():
                    rec = json.loads(line)
                    done[rec['key']] = rec
    return done


def _run_one(session, mode: str, ep: Dict[str, object], model: str, out: str,
             timeout: float, record_bags: bool) -> dict:
    bag = (os.path.join(out, 'bags', f'{mode}_{ep["scenario"]}_s{ep["seed"]}')
           if record_bags else '')
    r = session.run_episode(str(ep['scenario']), int(ep['seed']), str(ep['instruction']),
                            model, timeout=timeout, bag_path=bag)
    return {'key': _key(mode, ep), 'mode': mode, 'scenario': r.scenario, 'seed': r.seed,
            'instruction': r.instruction, 'outcome': r.outcome, 'time': r.time,
            'path_length': r.path_length, 'min_clearance': r.min_clearance,
            'passed_side': r.passed_side, 'commanded_side': r.commanded_side,
            'side_correct': r.side_correct, 'inferences': r.inferences,
            'triggers': r.triggers, 'latency_p50_ms': r.latency_p50_ms,
            'latency_p95_ms': r.latency_p95_ms,
            'safety_interventions': r.safety_interventions, 'wall_time': r.wall_time,
            'trajectory': [[round(v, 3) for v in p] for p in r.trajectory[::10]]}


def run_mode(model: str, mode: str, episodes: Sequence[Dict[str, object]], out: str,
             timeout: float = 120.0, quiet: bool = True, record_bags: bool = False,
             bar=None, restarts: int = 10) -> List[dict]:
    """Run `episodes` in one stack with `mode` triggers; append records to episodes.jsonl."""
    from vla_bringup.session import EpisodeSession, StackFailure
    from vla_bringup.stacks import mobile_stack

    path = os.path.join(out, 'episodes.jsonl')
    done = load_done(path)
    params = eval_params_file(os.path.join(out, f'params_{mode}.yaml'), mode)
    stack = mobile_stack(sim='mujoco', model=os.path.abspath(model), params_file=params)
    log = (lambda _n, _l: None) if quiet else None
    for attempt in range(restarts + 1):
        todo = [ep for ep in episodes if _key(mode, ep) not in done]
        if not todo:
            break
        try:
            with EpisodeSession(stack, log=log) as session:
                session.start()
                for ep in todo:
                    rec = _run_one(session, mode, ep, model, out, timeout, record_bags)
                    # A node that died during the episode (on a shared machine other jobs'
                    # clean-ups have killed ours) invalidates it: restart, run it again.
                    why = session.runner.check()
                    if why:
                        raise StackFailure(f'{why} during {rec["key"]}')
                    with open(path, 'a', encoding='utf-8') as f:
                        f.write(json.dumps(rec, ensure_ascii=False) + '\n')
                    done[rec['key']] = rec
                    if bar is not None:
                        bar.set_postfix_str(f'{mode} {rec["scenario"]} s{rec["seed"]}: '
                                            f'{rec["outcome"]}, {rec["passed_side"]}')
                        bar.update(1)
        except StackFailure as exc:
            msg = f'[evaluate] stack failure ({mode}), restarting the stack: {exc}'
            if bar is not None:
                bar.write(msg)
            if attempt == restarts:
                raise SystemExit(f'[evaluate] giving up after {restarts} restarts: {exc}')
    return [done[_key(mode, ep)] for ep in episodes]


def summarize(records: Sequence[dict]) -> Dict[str, float]:
    n = len(records)
    if not n:
        return {'episodes': 0}
    reached = [r for r in records if r['outcome'] == 'reached']
    return {'episodes': n,
            'success': sum(r['outcome'] == 'reached' and r['side_correct']
                           for r in records) / n,
            'reached': len(reached) / n,
            'collision': sum(r['outcome'] == 'collided' for r in records) / n,
            'side_correct': sum(r['side_correct'] for r in records) / n,
            'timeout': sum(r['outcome'] in ('timed_out', 'no_result') for r in records) / n,
            'time': float(np.mean([r['time'] for r in reached])) if reached else float('nan'),
            'inferences': float(np.mean([r['inferences'] for r in records])),
            'latency_p50_ms': float(np.median([r['latency_p50_ms'] for r in records])),
            'wall_time': float(np.mean([r['wall_time'] for r in records]))}


def results_markdown(records: Sequence[dict], model: str) -> str:
    """Markdown tables: per mode, and per scenario for each mode."""
    lines = [f'Model `{model}`; held-out placements (seeds ≥ {EVAL_SEED_BASE}) and held-out '
             'paraphrases; real stack, lockstep sim time.', '',
             '| trigger mode | episodes | success (cup, commanded side) | collisions | '
             'left/right correct | time to cup (s, sim) | inferences / episode | '
             'latency p50 (ms) |', '|---|---|---|---|---|---|---|---|']
    modes = [m for m in MODES if any(r['mode'] == m for r in records)]
    for m in modes:
        s = summarize([r for r in records if r['mode'] == m])
        lines.append(f'| {m} | {s["episodes"]} | {s["success"]:.0%} | {s["collision"]:.0%} | '
                     f'{s["side_correct"]:.0%} | {s["time"]:.1f} | {s["inferences"]:.1f} | '
                     f'{s["latency_p50_ms"]:.1f} |')
    for m in modes:
        lines += ['', f'Per scenario ({m}):', '',
                  '| scenario | episodes | success | collisions | side correct | time (s) | '
                  'inferences |', '|---|---|---|---|---|---|---|']
        for sc in SCENARIOS:
            rs = [r for r in records if r['mode'] == m and r['scenario'] == sc]
            if not rs:
                continue
            s = summarize(rs)
            lines.append(f'| {sc} | {s["episodes"]} | {s["success"]:.0%} | '
                         f'{s["collision"]:.0%} | {s["side_correct"]:.0%} | {s["time"]:.1f} | '
                         f'{s["inferences"]:.1f} |')
    failures = [r for r in records if not (r['outcome'] == 'reached' and r['side_correct'])]
    if failures:
        lines += ['', 'Failures:', '']
        lines += [f'- {r["mode"]} {r["scenario"]} seed {r["seed"]} "{r["instruction"]}": '
                  f'{r["outcome"]}, passed {r["passed_side"]}' for r in failures]
    return '\n'.join(lines) + '\n'


def plot_results(records: Sequence[dict], path: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    modes = [m for m in MODES if any(r['mode'] == m for r in records)]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(SCENARIOS))
    width = 0.8 / max(1, len(modes))
    for j, m in enumerate(modes):
        succ = [summarize([r for r in records if r['mode'] == m and r['scenario'] == sc]
                          ).get('success', np.nan) for sc in SCENARIOS]
        ax1.bar(x + j * width, succ, width, label=m)
    ax1.set_xticks(x + width * (len(modes) - 1) / 2)
    ax1.set_xticklabels(SCENARIOS, rotation=40, ha='right', fontsize=8)
    ax1.set_ylim(0, 1.05)
    ax1.set_ylabel('success rate (cup reached on the commanded side)')
    ax1.legend()
    ax1.grid(axis='y', alpha=0.3)
    data = [[r['inferences'] for r in records if r['mode'] == m] for m in modes]
    ax2.boxplot(data)
    ax2.set_xticks(range(1, len(modes) + 1))
    ax2.set_xticklabels(modes)
    ax2.set_ylabel('inferences per episode')
    ax2.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def evaluate(model: str, out: str, scenarios: Sequence[str] = SCENARIOS, seeds: int = 3,
             modes: Sequence[str] = MODES, periodic_seeds: Optional[int] = None,
             timeout: float = 120.0, quiet: bool = True, progress: bool = True,
             record_bags: bool = False, instructions: str = 'held_out') -> List[dict]:
    from tqdm import tqdm

    os.makedirs(out, exist_ok=True)
    per_mode = {m: plan(scenarios, periodic_seeds if (m == 'periodic' and periodic_seeds)
                        else seeds, instructions=instructions) for m in modes}
    total = sum(len(v) for v in per_mode.values())
    done = load_done(os.path.join(out, 'episodes.jsonl'))
    initial = sum(_key(m, ep) in done for m, eps in per_mode.items() for ep in eps)
    bar = tqdm(total=total, initial=initial, desc='evaluate', unit='ep',
               disable=not progress, file=sys.stderr)
    records: List[dict] = []
    for m in modes:
        records += run_mode(model, m, per_mode[m], out, timeout, quiet, record_bags, bar)
    bar.close()
    with open(os.path.join(out, 'results.md'), 'w', encoding='utf-8') as f:
        f.write(results_markdown(records, model))
    plot_results(records, os.path.join(out, 'results.png'))
    return records


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='vla_evaluate', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', default='', help='checkpoint (default: the shipped one)')
    parser.add_argument('--out', default='runs/evaluate')
    parser.add_argument('--scenarios', default='', help='comma-separated (default: all of the '
                        'robot\'s scenarios / tasks)')
    parser.add_argument('--seed-base', type=int, default=0,
                        help='arm: first placement seed of the `evaluate` namespace')
    parser.add_argument('--seeds', type=int, default=3, help='held-out placements per scenario')
    parser.add_argument('--periodic-seeds', type=int, default=0,
                        help='placements per scenario for the periodic baseline (0: --seeds)')
    parser.add_argument('--modes', default=','.join(MODES))
    parser.add_argument('--timeout', type=float, default=120.0, help='wall s per episode')
    parser.add_argument('--instructions', default='held_out', choices=INSTRUCTION_SETS,
                        help='held-out paraphrases (default), train paraphrases or canonical')
    parser.add_argument('--record-bags', action='store_true')
    parser.add_argument('--verbose', action='store_true')
    parser.add_argument('--robot', default='mobile', choices=('mobile', 'arm'),
                        help='arm: the tabletop tasks through the arm stack (--scenarios '
                        'names arm tasks; --seeds placements per task; event triggers)')
    args = parser.parse_args(argv)
    if args.robot == 'arm':
        return evaluate_arm(args)
    model = args.model
    if not model:
        from vla_bringup.stacks import default_model_path

        model = default_model_path()
    t0 = time.monotonic()
    records = evaluate(model, args.out, parse_list(args.scenarios or ','.join(SCENARIOS),
                                                   SCENARIOS), args.seeds,
                       parse_list(args.modes, MODES), args.periodic_seeds or None,
                       args.timeout, not args.verbose, record_bags=args.record_bags,
                       instructions=args.instructions)
    with open(os.path.join(args.out, 'results.md'), encoding='utf-8') as f:
        print(f.read())
    print(f'[evaluate] {len(records)} episodes, {time.monotonic() - t0:.0f} s -> {args.out}')
    return 0


def evaluate_arm(args) -> int:
    """`vla_evaluate --robot arm`: vla_learning.robots.arm's evaluation."""
    from vla_common.arm_tasks import TASK_NAMES
    from vla_learning.robots import arm

    model = args.model
    if not model:
        from vla_bringup.stacks import default_arm_model_path

        model = default_arm_model_path()
        if not model:
            raise SystemExit('[evaluate] no shipped arm model: --model DIR')
    t0 = time.monotonic()
    tasks = parse_list(args.scenarios or ','.join(TASK_NAMES), TASK_NAMES)
    records = arm.evaluate(model, args.out, tasks, args.seeds, args.seed_base,
                           args.instructions, args.timeout, not args.verbose,
                           record_bags=args.record_bags)
    with open(os.path.join(args.out, 'results.md'), encoding='utf-8') as f:
        print(f.read())
    print(f'[evaluate] {len(records)} episodes, {time.monotonic() - t0:.0f} s -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
