"""How well the policy node's sudden-change detector (`triggers.sudden_change`) sees the
perturbation suite's mid-episode changes, offline: the scripted expert drives episodes under
the suite's conditions (direct stepping, camera frames at 10 Hz of sim time); every frame's
value against the previous frame is collected, split into ordinary frames (ego-motion, noise)
and the first frame after the box moved or appeared, with whether the changed box's centre
was inside the camera's 80 deg view.

    python src/vla_bringup/benchmarks/bench_scene_change.py [--seeds 200:204] [--threshold 0.10]

Prints the ordinary frames' distribution and false-fire rate at the threshold, how many of the
changes it catches, and the cost per frame.
"""

import argparse
import math
import time

from mobile_base.core.expert import ScriptedExpert
from mobile_base.sim.scene import SUITES
from mobile_base.sim.world import MujocoWorld, SimOptions
import numpy as np
from vla_common.scenarios import SCENARIOS
from vla_policy_node.execution.triggers import scene_thumbnail, sudden_change

HALF_FOV_DEG = 40.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seeds', default='200:204', help='placements first:end (evaluate '
                        'namespace; the suite\'s own runs use 100 on)')
    parser.add_argument('--threshold', type=float, default=0.10)
    args = parser.parse_args()
    first, end = (int(v) for v in args.seeds.split(':'))
    s = SUITES['perturbation']
    world = MujocoWorld(SimOptions(
        visual_jitter=s['visual_jitter'], camera_noise=s['camera_noise'],
        camera_blur=s['camera_blur'], distractor_prob=s['distractor_prob'],
        perturbation='mixed', placement='evaluate',
        start_noise=(s['start_noise_xy'], s['start_noise_xy'], s['start_noise_yaw'])))
    ordinary, changes, cost = [], [], []
    try:
        for seed in range(first, end):
            for name in SCENARIOS:
                expert = ScriptedExpert(world.start(name, seed))
                world.start_task()
                previous, step, changed_at, box = None, 0, None, None
                while not world.done and world.episode_time < 25.0:
                    plan = world._perturbation
                    world.set_command(expert.act(world.ground_truth_pose(), world.episode_time))
                    world.step(25)                                   # 20 Hz control
                    if plan is not None and world._perturbation is None:
                        changed_at, box = step, plan.obstacle
                    if step % 2 == 0:                                # 10 Hz camera
                        thumb = scene_thumbnail(world.render())
                        t0 = time.perf_counter()
                        value = sudden_change(previous, thumb)
                        cost.append(time.perf_counter() - t0)
                        if previous is not None:
                            if changed_at is not None and step - changed_at < 2:
                                p = world.ground_truth_pose()
                                bearing = math.degrees(math.atan2(box.y - p.y, box.x - p.x)
                                                       - p.yaw)
                                in_view = abs((bearing + 180.0) % 360.0 - 180.0) < HALF_FOV_DEG
                                changes.append((name, seed, value, in_view))
                            else:
                                ordinary.append(value)
                        previous = thumb
                    step += 1
    finally:
        world.close()
    o, thr = np.array(ordinary), args.threshold
    print(f'ordinary frames {len(o)}: p50 {np.percentile(o, 50):.3f} p99 '
          f'{np.percentile(o, 99):.3f} max {o.max():.3f}; above {thr:.2f}: {np.mean(o > thr):.2%}')
    seen = [c for c in changes if c[3]]
    print(f'changes {len(changes)}, changed box in view {len(seen)}: caught '
          f'{sum(c[2] > thr for c in seen)}/{len(seen)} in view, '
          f'{sum(c[2] > thr for c in changes if not c[3])}/{len(changes) - len(seen)} out of view')
    print(f'cost per frame p50 {1e3 * np.median(cost):.2f} ms')
    for c in changes:
        print(f'  {c[0]} seed {c[1]}: {c[2]:.3f}{"" if c[3] else " (out of view)"}')


if __name__ == '__main__':
    main()
