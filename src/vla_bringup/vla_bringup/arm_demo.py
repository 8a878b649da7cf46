"""The arm's main job: the arm stack does a Korean tabletop task in arm_sim, end to end.

    scripts/demo.sh --robot arm [--task blue_block_tray] [--seed 0] [--instruction "..."]
                    [--model DIR | --expert] [--arm-model RM75] [--out DIR] [--timeout 120]

Starts the arm stack (arm_sim, safety_gate, policy_node with the shipped arm model,
realman_bridge, instruction_node) as separate processes, types the instruction, runs until the
policy ends its task (or the simulator's time limit) and writes into --out: the run as an mcap
rosbag2 (`bag/`), a top view (`top_view.png`: the tool point's path, every object's start and
end, the tray / plates and the gate's workspace box) and `result.json` (outcome, ended_by,
time, grasped / placed, workspace check, ...). `--expert` runs the scripted expert in the
policy's place (the demonstrations' source). Exit status 0 when the run completed (whatever
the outcome), 1 when the stack itself failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from vla_bringup.stacks import ARM_MODELS


def plot_top_view(report, scene, workspace, path: str) -> None:
    """Top view of the table: tool-point path, objects at start and end, receptacles."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from arm_sim.core.scene import (CUP_RADIUS, PLATE_RADIUS, TRAY_SIZE, goal_placement,
                                    object_footprint)
    from matplotlib.patches import Circle, Rectangle
    from vla_bringup.demo import save_plot
    from vla_common.arm_tasks import OBJECTS

    colours = {'red': '#c0141a', 'green': '#1a8a2a', 'blue': '#1f4fbf', 'yellow': '#d8b400'}
    fig, ax = plt.subplots(figsize=(6, 6), dpi=110)

    # The robot's view from above: +x away from the base (up), +y to its left (left).
    def xy(x, y):
        return -y, x

    if workspace and all(len(v) == 3 for v in workspace):
        (x0, y0, _), (x1, y1, _) = workspace
        ax.add_patch(Rectangle(xy(x0, y1), y1 - y0, x1 - x0, fill=False, linestyle='--',
                               color='#888888', label='gate workspace box'))
    for name, p in scene.receptacles.items():
        if name == 'tray':
            ax.add_patch(Rectangle(xy(p.x - TRAY_SIZE[0] / 2, p.y + TRAY_SIZE[1] / 2),
                                   TRAY_SIZE[1], TRAY_SIZE[0], color='#555566', alpha=0.5,
                                   label='tray'))
        else:
            ax.add_patch(Circle(xy(p.x, p.y), PLATE_RADIUS, color='#bbbbbb', alpha=0.6,
                                label='plate'))
    for name, p in scene.objects.items():
        colour = colours.get(OBJECTS[name][1], 'k')
        radius = CUP_RADIUS if OBJECTS[name][0] == 'cup' else object_footprint(name) * 0.75
        ax.add_patch(Circle(xy(p.x, p.y), radius, fill=False, color=colour, lw=1.5,
                            linestyle=':'))
    if report.object_start and report.object_end:
        colour = colours.get(OBJECTS[report.target_object][1], 'k') \
            if report.target_object in OBJECTS else 'k'
        sx, sy, _ = report.object_start
        ex, ey, _ = report.object_end
        ax.add_patch(Circle(xy(sx, sy), 0.018, fill=False, color=colour, lw=2,
                            label=f'{report.target_object} start'))
        ax.add_patch(Circle(xy(ex, ey), 0.018, color=colour, alpha=0.8,
                            label=f'{report.target_object} end'))
    goal = goal_placement(scene)
    if goal is not None:
        ax.plot(*xy(goal.x, goal.y), 'x', color='k', ms=9, label='goal')
    if report.ee_path:
        xs, ys = zip(*[xy(p[0], p[1]) for p in report.ee_path])
        ax.plot(xs, ys, '-', color='#333333', lw=1.2, label='tool point path')
        ax.plot(xs[0], ys[0], 's', color='#333333', ms=5)
        ax.plot(xs[-1], ys[-1], 'o', color='#333333', ms=5)
    ax.plot(*xy(0.0, 0.0), '^', color='k', ms=10, label='arm base')
    ax.set_aspect('equal')
    ax.set_xlim(-0.40, 0.40)
    ax.set_ylim(-0.05, 0.62)
    ax.set_xlabel('← robot left   y (m)   robot right →')
    ax.set_ylabel('x (m, away from the base)')
    ax.grid(alpha=0.3)
    ax.set_title(f'{report.task} seed {report.seed}: {report.outcome} (ended by '
                 f'{report.ended_by or "-"}, grasped {report.grasped}, placed {report.placed})',
                 fontsize=8)
    save_plot(fig, ax, path, legend_size=7)


def summary(report) -> str:
    triggers = ', '.join(f'{k} {v}' for k, v in sorted(report.triggers.items())) or 'none'
    policy = [f'policy        {report.policy_error}'] if report.policy_error else []
    return '\n'.join(policy + [
        f'task          {report.task} (seed {report.seed}, {report.arm_model})',
        f'instruction   {report.instruction}',
        f'model         {report.model}',
        f'outcome       {report.outcome.upper()} (ended by {report.ended_by or "-"}; policy '
        f'said {report.task_result or "nothing"}) after {report.time:.1f} s sim time '
        f'({report.wall_time:.1f} s wall)',
        f'grasp/place   grasped {report.grasped}, placed {report.placed}, released '
        f'{report.released}, retracted {report.retracted}, still {report.still}',
        f'workspace     {"VIOLATED" if report.workspace_violation else "inside"}; tool point '
        f'min {report.tcp_min} max {report.tcp_max}; hard stops {report.hard_stops}',
        f'inferences    {report.inferences} ({triggers}); latency p50 '
        f'{report.latency_p50_ms:.0f} ms, p95 {report.latency_p95_ms:.0f} ms',
        f'safety        {report.safety_interventions} interventions; states seen '
        f'{report.safety_states}',
    ])


def expert_stack(stack, placement: str = 'plain'):
    """`stack` with the scripted expert in the policy's place (on the stack's sim time)."""
    from vla_bringup.stacks import NodeSpec, ParamFile, StackSpec

    expert = NodeSpec('arm_expert', 'arm_sim', 'arm_expert',
                      (ParamFile('arm_sim', 'config/arm_expert.param.yaml'),)).with_parameters(
        use_sim_time=True, placement=placement)
    return StackSpec(stack.name, tuple(n for n in stack.nodes if n.name != 'policy_node')
                     + (expert,), dict(stack.arguments))


def main(argv: Optional[Sequence[str]] = None) -> int:
    from vla_common.arm_tasks import TASK_NAMES

    parser = argparse.ArgumentParser(prog='demo --robot arm', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--task', default='blue_block_tray', choices=TASK_NAMES)
    parser.add_argument('--seed', type=int, default=0, help='placement seed')
    parser.add_argument('--instruction', default='',
                        help="instruction text (default: the task's Korean sentence)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument('--model', default='', help='policy checkpoint directory (default: the '
                     'shipped arm model)')
    who.add_argument('--expert', action='store_true',
                     help='the scripted expert instead of the policy')
    parser.add_argument('--arm-model', default='RM75', choices=ARM_MODELS)
    parser.add_argument('--out', default='', help='output directory (default runs/<time>)')
    parser.add_argument('--timeout', type=float, default=180.0, help='wall seconds')
    args = parser.parse_args(argv)

    from arm_sim.core.scene import make_scene
    from vla_bringup.arm_session import ArmEpisodeSession
    from vla_bringup.bags import ARM_TOPICS
    from vla_bringup.demo import run_dir, write_record
    from vla_bringup.session import StackFailure
    from vla_bringup.stacks import arm_stack, default_arm_model_path

    scene = make_scene(args.task, args.seed)
    instruction = args.instruction or scene.task.korean
    model = 'expert' if args.expert else (os.path.abspath(args.model) if args.model
                                          else default_arm_model_path())
    if not args.expert and not os.path.isfile(os.path.join(model, 'config.json')):
        print(f'[demo] ERROR: no arm policy checkpoint at {model or "models/nano_arm"} '
              '(config.json missing); --expert runs the scripted expert', file=sys.stderr)
        return 1
    out = run_dir(args.out, f'{args.task}-s{args.seed}')
    stack = arm_stack(arm_model=args.arm_model, sim='mujoco', task=args.task, seed=args.seed,
                      model='' if args.expert else model, voice='false')
    if args.expert:
        stack = expert_stack(stack)
    print(f'[demo] arm {args.arm_model}, task {args.task} seed {args.seed}: "{instruction}"')
    print(f'[demo] policy {model}; output {out}')
    try:
        with ArmEpisodeSession(stack, record_topics=ARM_TOPICS) as session:
            session.start()
            report = session.run_episode(args.task, args.seed, instruction, model,
                                         timeout=args.timeout,
                                         bag_path=os.path.join(out, 'bag'))
            workspace = session.workspace
    except StackFailure as exc:
        print(f'[demo] STACK FAILURE: {exc}', file=sys.stderr)
        return 1
    write_record(out, report, 'ee_path.json', report.ee_path)
    plot_top_view(report, scene, workspace, os.path.join(out, 'top_view.png'))
    print('[demo] ' + summary(report).replace('\n', '\n[demo] '))
    print(f'[demo] wrote {out}/result.json, top_view.png, bag/')
    return 0


__all__ = ['expert_stack', 'main', 'plot_top_view', 'summary']
