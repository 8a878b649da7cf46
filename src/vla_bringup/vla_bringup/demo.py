"""The main job: the mobile stack closes the loop in MuJoCo on a Korean instruction.

    scripts/demo.sh [--scenario 1box_vert_left] [--seed 0] [--instruction "..."]
                    [--suite nominal|shift|perturbation] [--model DIR] [--out DIR]
                    [--timeout 90]
    scripts/demo.sh --robot arm [--task blue_block_tray] ...     # the arm: vla_bringup.arm_demo

Starts the mobile stack (mujoco_sim, safety_gate, policy_node with the default model,
instruction_node) as separate processes, sends the instruction, runs until the episode ends and
writes into --out: the run as an mcap rosbag2 (`bag/`), a top-down trajectory PNG and
`result.json`. The episode ends when the simulator's judge says so: the robot came to rest by
itself (ended by the policy), a collision, or the time limit; nothing stops the robot for it.
With --suite the simulator runs under an evaluation suite's conditions (placements from the
evaluation namespace): `nominal` (the training randomisation), `shift` (held-out colours and
textures, a lighting change, wider ranges, camera noise, a distractor) or `perturbation` (the
box moves or a second one appears on the way). Exit status 0 when the run completed
(whatever the outcome), 1 when the stack itself failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Optional, Sequence

from vla_bringup.session import default_model, EpisodeReport, EpisodeSession, StackFailure
from vla_bringup.stacks import mobile_stack, write_params_file


def plot_trajectory(report: EpisodeReport, path: str) -> None:
    """Top-down PNG: robot path, boxes, cup, start, outcome."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Polygon
    from mobile_base.core.scenarios import make_instance
    from mobile_base.sim.scene import perturbation_plan

    scene = make_instance(report.scenario, report.seed, placement=report.placement,
                          spread=report.layout_spread)
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    for obstacle in scene.obstacles:
        ax.add_patch(Polygon([(c[0], c[1]) for c in obstacle.corners()], closed=True,
                             facecolor='#e8902a', edgecolor='#8a4d0f', label='box'))
    if report.perturbation:      # where the box moved to / the box that appeared
        changed = perturbation_plan(scene, report.seed, report.perturbation).obstacle
        ax.add_patch(Polygon([(c[0], c[1]) for c in changed.corners()], closed=True,
                             fill=False, hatch='//', edgecolor='#8a4d0f',
                             label=f'{report.perturbation.replace("_", " ")} '
                                   f'({report.perturbation_time:.1f} s)'))
    ax.add_patch(Circle((scene.cup.x, scene.cup.y), scene.cup.radius, color='#c0141a',
                        label='cup'))
    ax.add_patch(Circle((scene.cup.x, scene.cup.y), scene.success_radius, fill=False,
                        linestyle=':', color='#c0141a'))
    if report.trajectory:
        xs = [p[1] for p in report.trajectory]
        ys = [p[2] for p in report.trajectory]
        ax.plot(xs, ys, '-', color='#1f5fbf', lw=2, label='robot path')
        ax.plot(xs[-1], ys[-1], 'o', color='#1f5fbf')
    ax.plot(scene.start.x, scene.start.y, 's', color='k', label='start')
    ax.set_aspect('equal')
    xs_all = [scene.start.x, scene.cup.x] + [p[1] for p in report.trajectory]
    ys_all = [scene.start.y, scene.cup.y] + [p[2] for p in report.trajectory]
    ax.set_xlim(min(xs_all) - 0.4, max(xs_all) + 0.6)
    ax.set_ylim(min(min(ys_all) - 0.4, -1.0), max(max(ys_all) + 0.4, 1.0))
    ax.set_xlabel('x (m, forward)')
    ax.set_ylabel('y (m, left)')
    ax.grid(alpha=0.3)
    ax.set_title(f'{report.scenario} seed {report.seed}: {report.outcome}, ended by '
                 f'{report.ended_by} (passed {"/".join(report.passed_sides) or "none"}, asked '
                 f'{report.commanded_side})', fontsize=9)
    save_plot(fig, ax, path, legend_size=8)


def save_plot(fig, ax, path: str, legend_size: int) -> None:
    """Write a demo's top view: one legend entry per label, then close the figure."""
    import matplotlib.pyplot as plt

    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), loc='upper left', fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _reasons(report: EpisodeReport, kind: str) -> str:
    from vla_bringup.core.episode import safety_class

    parts = [f'{name} {share:.0%}' for name, share in sorted(
        report.safety_reasons.items(), key=lambda kv: -kv[1]) if safety_class([name]) == kind]
    return f' ({", ".join(parts)})' if parts else ''


def summary(report: EpisodeReport) -> str:
    triggers = ', '.join(f'{k} {v}' for k, v in sorted(report.triggers.items())) or 'none'
    policy = [f'policy        {report.policy_error}'] if report.policy_error else []
    sides = '/'.join(report.passed_sides) or 'none'
    where = (f'{report.final_distance:.2f} m from the cup (error {report.final_error:+.2f} m)'
             if report.final_distance == report.final_distance else 'no end position')
    safety = report.safety_time
    perturbation = ([f'perturbation  {report.perturbation} at {report.perturbation_time:.1f} s;'
                     f' first reacting command after {report.reaction_time:.2f} s']
                    if report.perturbation else [])
    return '\n'.join(policy + [
        f'scenario      {report.scenario} (seed {report.seed})',
        f'instruction   {report.instruction}',
        f'model         {report.model}',
        f'outcome       {report.outcome.upper()}, ended by {report.ended_by}, after '
        f'{report.time:.1f} s sim time ({report.wall_time:.1f} s wall): {where}',
        f'verdict       {"SUCCESS" if report.success else "FAILURE"} (at rest inside the '
        f'radius, no collision, every box on the commanded side); path '
        f'{report.path_length:.2f} m, min clearance {report.min_clearance:.2f} m',
        f'task result   {report.task_result.upper() or "NONE"} (the policy\'s own end of the '
        f'instruction: DONE = it declared the task complete and stopped)',
        f'side          passed {sides}, commanded {report.commanded_side} '
        f'({"correct" if report.side_correct else "WRONG"})',
    ] + perturbation + [
        f'inferences    {report.inferences} ({triggers}); latency p50 '
        f'{report.latency_p50_ms:.0f} ms, p95 {report.latency_p95_ms:.0f} ms',
        f'safety        of the task time: shaping {safety.get("shaping", 0.0):.0%}'
        f'{_reasons(report, "shaping")}, overrides (stops) {safety.get("override", 0.0):.0%}'
        f'{_reasons(report, "override")}, no command to pass {safety.get("idle", 0.0):.0%}',
    ])


def run_dir(out: str, label: str) -> str:
    """The demo's output folder (made): `out`, or a stamped one under $VLA_WS/runs."""
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    out = os.path.abspath(out or os.path.join(os.environ.get('VLA_WS', '.'), 'runs',
                                              f'{stamp}-{label}'))
    os.makedirs(out, exist_ok=True)
    return out


def write_record(out: str, report, path_name: str, path) -> None:
    """result.json (the report) and `path_name` (the robot's path as JSON) in `out`."""
    with open(os.path.join(out, 'result.json'), 'w', encoding='utf-8') as f:
        f.write(report.to_json())
    with open(os.path.join(out, path_name), 'w', encoding='utf-8') as f:
        json.dump(path, f)


def main(argv: Optional[Sequence[str]] = None) -> int:
    robot = argparse.ArgumentParser(add_help=False)
    robot.add_argument('--robot', default='mobile', choices=('mobile', 'arm'))
    chosen, argv = robot.parse_known_args(argv)
    if chosen.robot == 'arm':
        from vla_bringup import arm_demo

        return arm_demo.main(argv)
    parser = argparse.ArgumentParser(prog='demo', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--scenario', default='1box_vert_left',
                        help='navigation scenario {1,2}box_{vert,hori}_{left,right} or YAML')
    parser.add_argument('--seed', type=int, default=0, help='placement seed')
    parser.add_argument('--instruction', default='',
                        help="instruction text (default: the scenario's Korean instruction)")
    parser.add_argument('--suite', default='', choices=('', 'nominal', 'shift', 'perturbation'),
                        help='run under an evaluation suite\'s conditions (default: the plain '
                        'simulator)')
    parser.add_argument('--model', default='', help='policy checkpoint directory')
    parser.add_argument('--out', default='', help='output directory (default runs/<time>)')
    parser.add_argument('--timeout', type=float, default=120.0, help='wall seconds per episode')
    parser.add_argument('--headless', action='store_true', default=True,
                        help='no display (the default; there is no GUI)')
    args = parser.parse_args(argv)

    from mobile_base.core.scenarios import make_instance

    try:
        scene = make_instance(args.scenario, args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    instruction = args.instruction or scene.instruction
    model = os.path.abspath(args.model) if args.model else default_model()
    if not os.path.isfile(os.path.join(model, 'config.json')):
        print(f'[demo] ERROR: no policy checkpoint at {model} (config.json missing)',
              file=sys.stderr)
        return 1
    out = run_dir(args.out, f'{args.scenario}-s{args.seed}')
    params = ''
    if args.suite:
        from mobile_base.sim.scene import suite_parameters

        params = write_params_file(os.path.join(out, 'params.yaml'),
                                   {'mujoco_sim': suite_parameters(args.suite)})
    stack = mobile_stack(sim='mujoco', model=model, scenario=args.scenario, seed=args.seed,
                         params_file=params)
    print(f'[demo] scenario {args.scenario} seed {args.seed}'
          f'{" (suite " + args.suite + ")" if args.suite else ""}: "{instruction}"')
    print(f'[demo] model {model}; output {out}')
    try:
        with EpisodeSession(stack) as session:
            session.start()
            report = session.run_episode(args.scenario, args.seed, instruction, model,
                                         timeout=args.timeout,
                                         bag_path=os.path.join(out, 'bag'))
    except StackFailure as exc:
        print(f'[demo] STACK FAILURE: {exc}', file=sys.stderr)
        return 1
    write_record(out, report, 'trajectory.json', report.trajectory)
    plot_trajectory(report, os.path.join(out, 'trajectory.png'))
    print('[demo] ' + summary(report).replace('\n', '\n[demo] '))
    print(f'[demo] wrote {out}/result.json, trajectory.png, bag/')
    return 0


if __name__ == '__main__':
    sys.exit(main())
