"""`vla_evaluate`: closed-loop evaluation of a checkpoint through the REAL mobile stack.

`vla_bringup.stacks.mobile_stack` (mujoco_sim + safety_gate + policy_node + instruction_node,
separate processes over DDS, sim time) with the simulator IN REAL TIME: inference takes the
time it takes, as on the robot, and the world does not wait for it. Results therefore do not
depend on how fast this machine happens to be as long as it keeps up with real time
(`--cpu-hog` runs the same evaluation beside busy processes to show it).

Suites (`--suite`, the simulator parameters are `mobile_base.sim.scene.SUITES`):
  nominal       the training randomisation (colours from the training palette, lighting,
                camera noise and blur, a distractor half the time, start-pose noise)
  shift         box and cup ranges 2x wider, start noise 2x, colours and textures of the
                held-out palette, a lighting change, 2x camera noise and blur, a distractor
  perturbation  nominal + the box moves or a second box appears mid-episode
Placements come from the simulator's `evaluate` namespace (no collection run can draw them,
whatever the seed; left and right variants get different ones), seeds `--seed-base` on.
Instructions are the normaliser's HELD-OUT paraphrases. Success = ended by the policy at
rest inside the radius, no collision, every box on the commanded side (the simulator's
judge); each rate comes with its Wilson 95 % interval.
Trigger modes: `event` (the policy node's default) and `periodic` at the event mode's own
inference rate measured in the same run (`--periodic-rate auto`), so both use the same
number of inferences. Writes <out>/episodes.jsonl (resumable), results.md, results.png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Callable, ContextManager, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from mobile_base.sim.scene import suite_parameters, SUITES
from vla_bringup.stacks import write_params_file
from vla_common.scenarios import SCENARIOS

from vla_learning.common import (add_robot_argument, eval_instructions, EVAL_SEED_BASE,
                                 INSTRUCTION_SETS, paraphrase_split, parse_list, report_text)

MODES = ('event', 'periodic')


def wilson(successes: int, n: int, z: float = 1.96) -> Tuple[float, float]:
    """Wilson score interval (95 % by default) of a rate of `successes` in `n`."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def eval_params_file(path: str, suite: str, mode: str, periodic_rate: float = 10.0) -> str:
    """A user parameter file layered over the mobile stack: the simulator in real time with
    the suite's conditions and evaluation placements, the trigger mode, text instructions."""
    return write_params_file(path, {
        'mujoco_sim': {'realtime_factor': 1.0, 'lockstep': False, **suite_parameters(suite)},
        'policy_node': {'trigger_mode': mode, 'periodic_rate': float(periodic_rate)},
        'instruction_node': {'voice_enabled': False}})


def plan(scenarios: Sequence[str], seeds: int, seed_base: int = EVAL_SEED_BASE,
         instructions: str = 'held_out') -> List[Dict[str, object]]:
    """Episodes: `seeds` placements per scenario; instructions from the normaliser's held-out
    paraphrases (default), its train paraphrases, or the scenario's canonical sentence."""
    def canonical(sc: str) -> str:
        from mobile_base.core.scenarios import resolve_scenario

        return resolve_scenario(sc).instruction
    text = eval_instructions(instructions, paraphrase_split, canonical)
    return [{'scenario': sc, 'seed': seed_base + i, 'instruction': text(sc, seed_base + i)}
            for i in range(seeds) for sc in scenarios]


def _key(suite: str, mode: str, load: int, ep: Dict[str, object]) -> str:
    return f'{suite}/{mode}/hog{load}/{ep["scenario"]}/{ep["seed"]}/{ep["instruction"]}'


def load_done(path: str) -> Dict[str, dict]:
    done: Dict[str, dict] = {}
    if os.path.isfile(path):
        with open(path, encoding='utf-8') as f:
            for line in f:
                if line.strip():
                    rec = json.loads(line)
                    done[rec['key']] = rec
    return done


def run_resumable(episodes: Sequence, path: str, key: Callable[[object], str],
                  open_session: Callable[[], ContextManager], run_one: Callable,
                  describe: Callable[[dict], str], bar=None, restarts: int = 10,
                  label: str = '') -> List[dict]:
    """Run the `episodes` not yet in the jsonl file `path` in one started session
    (`open_session()`), appending `run_one(session, ep)`'s record (with its 'key') after each.
    A node that died during an episode invalidates it (on a shared machine other jobs'
    clean-ups have killed ours): a fresh session runs it again, up to `restarts` times."""
    from vla_bringup.session import StackFailure

    done = load_done(path)
    for attempt in range(restarts + 1):
        todo = [ep for ep in episodes if key(ep) not in done]
        if not todo:
            break
        try:
            with open_session() as session:
                session.start()
                for ep in todo:
                    rec = run_one(session, ep)
                    why = session.runner.check()
                    if why:
                        raise StackFailure(f'{why} during {key(ep)}')
                    with open(path, 'a', encoding='utf-8') as f:
                        f.write(json.dumps(rec, ensure_ascii=False) + '\n')
                    done[rec['key']] = rec
                    if bar is not None:
                        bar.set_postfix_str(describe(rec))
                        bar.update(1)
        except StackFailure as exc:
            if bar is not None:
                bar.write(f'[evaluate] stack failure{label}, restarting the stack: {exc}')
            if attempt == restarts:
                raise SystemExit(f'[evaluate] giving up after {restarts} restarts: {exc}')
    return [done[key(ep)] for ep in episodes]


@contextmanager
def cpu_hog(processes: int) -> Iterator[None]:
    """`processes` busy-looping Python processes for the duration (the load demonstration)."""
    procs = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
             for _ in range(processes)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def run_mode(model: str, suite: str, mode: str, episodes: Sequence[Dict[str, object]],
             out: str, timeout: float = 120.0, quiet: bool = True, record_bags: bool = False,
             bar=None, restarts: int = 10, periodic_rate: float = 10.0,
             load: int = 0) -> List[dict]:
    """Run `episodes` of `suite` in one stack with `mode` triggers (beside `load` busy
    processes); append the records to episodes.jsonl."""
    from vla_bringup.session import EpisodeSession
    from vla_bringup.stacks import mobile_stack

    params = eval_params_file(os.path.join(out, f'params_{suite}_{mode}.yaml'), suite, mode,
                              periodic_rate)
    stack = mobile_stack(sim='mujoco', model=os.path.abspath(model), params_file=params)
    log = (lambda _n, _l: None) if quiet else None

    @contextmanager
    def open_session():
        with cpu_hog(load), EpisodeSession(stack, log=log) as session:
            yield session

    def run_one(session, ep):
        key = _key(suite, mode, load, ep)
        bag = os.path.join(out, 'bags', key.replace('/', '_')) if record_bags else ''
        r = session.run_episode(str(ep['scenario']), int(ep['seed']), str(ep['instruction']),
                                model, timeout=timeout, bag_path=bag)
        return {'key': key, 'suite': suite, 'mode': mode, 'load': load,
                'periodic_rate': periodic_rate if mode == 'periodic' else None, **r.to_dict(),
                'trajectory': [[round(v, 3) for v in p] for p in r.trajectory[::10]]}

    return run_resumable(
        episodes, os.path.join(out, 'episodes.jsonl'), lambda ep: _key(suite, mode, load, ep),
        open_session, run_one,
        lambda rec: f'{suite} {mode} {rec["scenario"]} s{rec["seed"]}: {rec["outcome"]}',
        bar, restarts, f' ({suite} {mode})')


def inference_rate(records: Sequence[dict]) -> float:
    """Inferences per second of task time over `records` (the event mode's own rate)."""
    time_s = sum(r['time'] for r in records)
    return sum(r['inferences'] for r in records) / time_s if time_s > 0 else 0.0


def _pct(values: Sequence[float], q: float) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.percentile(vals, q)) if vals else float('nan')


def summarize(records: Sequence[dict]) -> Dict[str, object]:
    n = len(records)
    if not n:
        return {'episodes': 0}
    ok = sum(bool(r['success']) for r in records)
    reactions = [r['reaction_time'] for r in records if r.get('perturbation')]
    return {
        'episodes': n, 'successes': ok, 'success': ok / n, 'success_ci': wilson(ok, n),
        'collision': sum(r['ended_by'] == 'collision' for r in records) / n,
        'ended_by_policy': sum(r['ended_by'] == 'policy' for r in records) / n,
        'declared_done': sum(r.get('task_result') == 'done' for r in records) / n,
        'timeout': sum(r['ended_by'] in ('timeout', 'none') for r in records) / n,
        'side_correct': sum(bool(r['side_correct']) for r in records) / n,
        'final_error_p50': _pct([abs(r['final_error']) for r in records
                                 if r['final_error'] is not None and r['at_rest']], 50),
        'time': _pct([r['time'] for r in records if r['success']], 50),
        'inferences': float(np.mean([r['inferences'] for r in records])),
        'inference_rate': inference_rate(records),
        'latency_p50_ms': _pct([r['latency_p50_ms'] for r in records], 50),
        'reaction_p50': _pct(reactions, 50), 'reaction_p90': _pct(reactions, 90),
        'reactions': len(reactions),
        'never_reacted': sum(1 for v in reactions if v is None or math.isnan(v)),
        'shaping': float(np.mean([r['safety_time'].get('shaping', 0.0) for r in records])),
        'override': float(np.mean([r['safety_time'].get('override', 0.0) for r in records])),
        'wall_time': float(np.mean([r['wall_time'] for r in records])),
        'realtime_factor': _pct([r.get('realtime_factor') or float('nan') for r in records],
                                50),
    }


def _groups(records: Sequence[dict]) -> List[Tuple[str, str, int]]:
    seen: List[Tuple[str, str, int]] = []
    for r in records:
        g = (r['suite'], r['mode'], r.get('load', 0))
        if g not in seen:
            seen.append(g)
    order = list(SUITES)
    return sorted(seen, key=lambda g: (order.index(g[0]) if g[0] in order else 99,
                                       MODES.index(g[1]) if g[1] in MODES else 9, g[2]))


def _ms(v: float) -> str:
    return '—' if v != v else f'{v * 1e3:.0f}'


def results_markdown(records: Sequence[dict], model: str) -> str:
    """Markdown tables: per suite, trigger mode and load; per scenario; the failures."""
    lines = [f'Model `{model}`; real stack (mujoco_sim in real time, safety_gate, policy_node, '
             'instruction_node over DDS); placements from the evaluation namespace, held-out '
             'paraphrases. Success = ended by the policy at rest inside the radius, no '
             'collision, every box on the commanded side; [Wilson 95 % interval]. Sim '
             'speed: task sim time per wall second (1.00 = real time; below it the machine '
             'could not keep up and the simulation slowed down).', '',
             '| suite | trigger | CPU hog | episodes | success | collisions | ended by policy '
             '| policy declared DONE | timeouts | final error p50 (m) | time (s) '
             '| inferences / ep | inferences / s | reaction p50 / p90 (ms) '
             '| shaping / override (time) | sim speed |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for suite, mode, load in _groups(records):
        rs = [r for r in records if (r['suite'], r['mode'], r.get('load', 0))
              == (suite, mode, load)]
        s = summarize(rs)
        lo, hi = s['success_ci']
        rate = f' ({rs[0]["periodic_rate"]:.2f} Hz)' if mode == 'periodic' else ''
        reaction = (f'{_ms(s["reaction_p50"])} / {_ms(s["reaction_p90"])}'
                    if s['reactions'] else '—')
        lines.append(
            f'| {suite} | {mode}{rate} | {load or "—"} | {s["episodes"]} | '
            f'**{s["success"]:.1%}** [{lo:.1%}, {hi:.1%}] | {s["collision"]:.1%} | '
            f'{s["ended_by_policy"]:.1%} | {s["declared_done"]:.1%} | {s["timeout"]:.1%} | '
            f'{s["final_error_p50"]:.3f} | '
            f'{s["time"]:.1f} | {s["inferences"]:.1f} | {s["inference_rate"]:.2f} | '
            f'{reaction} | {s["shaping"]:.1%} / {s["override"]:.1%} | '
            f'{s["realtime_factor"]:.2f} |')
    for suite, mode, load in _groups(records):
        lines += ['', f'Per scenario ({suite}, {mode}{", CPU hog " + str(load) if load else ""})'
                  ':', '', '| scenario | episodes | success | collisions | side correct | '
                  'time (s) | inferences |', '|---|---|---|---|---|---|---|']
        for sc in SCENARIOS:
            rs = [r for r in records if (r['suite'], r['mode'], r.get('load', 0), r['scenario'])
                  == (suite, mode, load, sc)]
            if rs:
                s = summarize(rs)
                lines.append(f'| {sc} | {s["episodes"]} | {s["success"]:.0%} | '
                             f'{s["collision"]:.0%} | {s["side_correct"]:.0%} | {s["time"]:.1f} '
                             f'| {s["inferences"]:.1f} |')
    return report_text(lines, records, lambda r: (
        f'{r["suite"]} {r["mode"]}{" hog" if r.get("load") else ""} '
        f'{r["scenario"]} seed {r["seed"]} "{r["instruction"]}": {r["outcome"]} '
        f'(ended by {r["ended_by"]}), passed {"/".join(r["passed_sides"]) or "none"}'
        + (f', {r["final_distance"]:.2f} m from the cup' if r['final_distance'] is not None
           else '')
        + (f', {r["perturbation"]}' if r.get('perturbation') else '')))


def plot_results(records: Sequence[dict], path: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    groups = _groups(records)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(groups)), 4))
    for i, (suite, mode, load) in enumerate(groups):
        s = summarize([r for r in records if (r['suite'], r['mode'], r.get('load', 0))
                       == (suite, mode, load)])
        lo, hi = s['success_ci']
        ax.bar(i, s['success'], color='tab:blue' if mode == 'event' else 'tab:orange')
        ax.errorbar(i, s['success'], yerr=[[s['success'] - lo], [hi - s['success']]],
                    color='k', capsize=4)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f'{s}\n{m}{" +hog" if ld else ""}' for s, m, ld in groups], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel('success (Wilson 95 % interval)')
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def evaluate(model: str, out: str, scenarios: Sequence[str] = SCENARIOS, seeds: int = 8,
             modes: Sequence[str] = ('event',), suites: Sequence[str] = ('nominal',),
             seed_base: int = EVAL_SEED_BASE, periodic_rate: Optional[float] = None,
             timeout: float = 120.0, quiet: bool = True, progress: bool = True,
             record_bags: bool = False, instructions: str = 'held_out',
             cpu_hog_processes: int = 0) -> List[dict]:
    """Every suite x mode; the periodic mode at `periodic_rate` Hz, or (None) at the event
    mode's measured inference rate of the same suite."""
    from tqdm import tqdm

    os.makedirs(out, exist_ok=True)
    episodes = plan(scenarios, seeds, seed_base, instructions)
    bar = tqdm(total=len(episodes) * len(modes) * len(suites), desc='evaluate', unit='ep',
               disable=not progress, file=sys.stderr)
    records: List[dict] = []
    for suite in suites:
        by_mode: Dict[str, List[dict]] = {}
        for mode in sorted(modes, key=MODES.index):     # event first: periodic needs its rate
            rate = 10.0
            if mode == 'periodic':
                rate = periodic_rate or round(inference_rate(
                    by_mode.get('event') or run_mode(model, suite, 'event', episodes, out,
                                                     timeout, quiet, record_bags, bar,
                                                     load=cpu_hog_processes)), 2)
            by_mode[mode] = run_mode(model, suite, mode, episodes, out, timeout, quiet,
                                     record_bags, bar, periodic_rate=rate,
                                     load=cpu_hog_processes)
            records += by_mode[mode]
    bar.close()
    every = list(load_done(os.path.join(out, 'episodes.jsonl')).values())
    with open(os.path.join(out, 'results.md'), 'w', encoding='utf-8') as f:
        f.write(results_markdown(every, model))
    plot_results(every, os.path.join(out, 'results.png'))
    return records


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='vla_evaluate', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', default='', help='checkpoint (default: the shipped one)')
    parser.add_argument('--out', default='runs/evaluate')
    parser.add_argument('--suite', default='nominal',
                        help=f'comma-separated suites: {", ".join(SUITES)}')
    parser.add_argument('--seed-base', type=int, default=None,
                        help=f'first placement seed of the evaluation namespace (mobile: '
                        f'{EVAL_SEED_BASE}, arm: 0)')
    parser.add_argument('--scenarios', default='', help='comma-separated (default: all of the '
                        'robot\'s scenarios / tasks)')
    parser.add_argument('--seeds', type=int, default=8, help='placements per scenario / task')
    parser.add_argument('--modes', default='event', help='event and/or periodic')
    parser.add_argument('--periodic-rate', default='auto',
                        help="Hz of the periodic baseline, or 'auto': the event mode's own "
                        'inference rate in this run (the same number of inferences)')
    parser.add_argument('--cpu-hog', type=int, default=0,
                        help='run beside this many busy processes (load independence)')
    parser.add_argument('--timeout', type=float, default=120.0, help='wall s per episode')
    parser.add_argument('--instructions', default='held_out', choices=INSTRUCTION_SETS,
                        help='held-out paraphrases (default), train paraphrases or canonical')
    parser.add_argument('--record-bags', action='store_true')
    parser.add_argument('--verbose', action='store_true')
    add_robot_argument(parser, 'arm: the tabletop tasks through the arm stack (--scenarios '
                       'names arm tasks; --seeds placements per task; event triggers)')
    args = parser.parse_args(argv)
    if args.robot == 'arm':
        return evaluate_arm(args)
    model = args.model
    if not model:
        from vla_bringup.stacks import default_model_path

        model = default_model_path()
    rate = None if args.periodic_rate == 'auto' else float(args.periodic_rate)
    t0 = time.monotonic()
    records = evaluate(model, args.out, parse_list(args.scenarios or ','.join(SCENARIOS),
                                                   SCENARIOS), args.seeds,
                       parse_list(args.modes, MODES), parse_list(args.suite, list(SUITES)),
                       EVAL_SEED_BASE if args.seed_base is None else args.seed_base, rate,
                       args.timeout, not args.verbose,
                       record_bags=args.record_bags, instructions=args.instructions,
                       cpu_hog_processes=args.cpu_hog)
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
    records = arm.evaluate(model, args.out, tasks, args.seeds, args.seed_base or 0,
                           args.instructions, args.timeout, not args.verbose,
                           record_bags=args.record_bags, cpu_hog_processes=args.cpu_hog)
    with open(os.path.join(args.out, 'results.md'), encoding='utf-8') as f:
        print(f.read())
    print(f'[evaluate] {len(records)} episodes, {time.monotonic() - t0:.0f} s -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
