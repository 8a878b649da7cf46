"""How well the policy node's two change detectors see the perturbation suite's mid-episode
changes, offline: the camera's sudden-change detector (`triggers.sudden_change`) and the
laser's free-space one (`scan_change.ScanChangeDetector`). The scripted expert drives episodes
under the suite's conditions (direct stepping, camera frames and scans at 10 Hz of sim time,
the scan placed with the odometry pose as the node does); every frame's and scan's value
against the previous one is collected, split into ordinary ones (ego-motion, noise) and the
first one after the box moved or appeared, with whether the changed box's centre was inside
the camera's 80 deg view.

    python src/vla_bringup/benchmarks/bench_scene_change.py [--seeds 200:204] [--threshold 0.10]
        [--scan-points 4]
        [--scan-tolerance 0.08] [--scan-noise 0.01]

Prints, per detector, the ordinary values' distribution and false-fire rate at its threshold,
how many of the changes it catches (in and out of the camera's view), and the cost.
"""

import argparse
import math
import time

from mobile_base.core.expert import ScriptedExpert
from mobile_base.sim.scene import SUITES
from mobile_base.sim.world import MujocoWorld, SimOptions
import numpy as np
from vla_common.scenarios import SCENARIOS
from vla_policy_node.execution.scan_change import (PlanarScan, ScanChangeConfig,
                                                   ScanChangeDetector)
from vla_policy_node.execution.triggers import scene_thumbnail, sudden_change

HALF_FOV_DEG = 40.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seeds', default='200:204', help='placements first:end (evaluate '
                        'namespace; the suite\'s own runs use 100 on)')
    parser.add_argument('--threshold', type=float, default=0.10)
    product = ScanChangeConfig()       # the policy node's defaults
    parser.add_argument('--scan-points', type=int, default=product.min_points,
                        help='scan detector: intrusions that make a change')
    parser.add_argument('--scan-tolerance', type=float, default=product.tolerance,
                        help='scan detector: m nearer than the space seen free')
    parser.add_argument('--scan-noise', type=float, default=0.01,
                        help='std of the simulated range noise (m; an RPLIDAR A1 states 1 %% '
                        'of the range up to 3 m)')
    args = parser.parse_args()
    first, end = (int(v) for v in args.seeds.split(':'))
    s = SUITES['perturbation']
    world = MujocoWorld(SimOptions(
        visual_jitter=s['visual_jitter'], camera_noise=s['camera_noise'],
        camera_blur=s['camera_blur'], distractor_prob=s['distractor_prob'],
        perturbation="mixed", placement="evaluate", scan_noise=args.scan_noise,
        start_noise=(s['start_noise_xy'], s['start_noise_xy'], s['start_noise_yaw'])))
    ordinary, changes, cost = [], [], []
    scan_ordinary, scan_changes, scan_cost = [], [], []
    robot = world.robot
    try:
        for seed in range(first, end):
            for name in SCENARIOS:
                expert = ScriptedExpert(world.start(name, seed))
                world.start_task()
                previous, step, changed_at, box = None, 0, None, None
                detector = ScanChangeDetector(ScanChangeConfig(
                    min_points=args.scan_points, tolerance=args.scan_tolerance))
                while not world.done and world.episode_time < 25.0:
                    plan = world._perturbation
                    world.set_command(expert.act(world.ground_truth_pose(), world.episode_time))
                    world.step(25)                                   # 20 Hz control
                    if plan is not None and world._perturbation is None:
                        changed_at, box = step, plan.obstacle
                    if step % 2 == 0:                                # 10 Hz camera
                        odom = world.odometry_state().pose
                        detector.on_pose(odom.x, odom.y, odom.yaw)
                        scan = PlanarScan.of(-math.pi, robot.scan_increment,
                                             robot.scan_range_min, robot.scan_range_max,
                                             world.scan(), world.episode_time)
                        t0 = time.perf_counter()
                        count = detector.on_scan(scan)
                        scan_cost.append(time.perf_counter() - t0)
                        if step > 0:
                            if changed_at is not None and step - changed_at < 2:
                                scan_changes.append((name, seed, count))
                            else:
                                scan_ordinary.append(count)
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
    so, k = np.array(scan_ordinary), args.scan_points
    in_view = {(c[0], c[1]): c[3] for c in changes}
    caught = [c for c in scan_changes if c[2] >= k]
    print(f'scan detector ({k}+ points in space seen free): ordinary scans {len(so)}: p50 '
          f'{np.percentile(so, 50):.0f} p99 {np.percentile(so, 99):.0f} max {so.max()}; '
          f'firing: {np.mean(so >= k):.2%}')
    print(f'changes {len(scan_changes)}: caught {len(caught)} '
          f'({sum(1 for c in caught if in_view.get((c[0], c[1])))} in the camera\'s view, '
          f'{sum(1 for c in caught if not in_view.get((c[0], c[1]), True))} out of it)')
    print(f'cost per scan p50 {1e3 * np.median(scan_cost):.2f} ms')
    for c in changes:
        scan = next((sc[2] for sc in scan_changes if sc[:2] == c[:2]), -1)
        print(f'  {c[0]} seed {c[1]}: image {c[2]:.3f}, scan {scan}'
              f'{"" if c[3] else " (out of view)"}')


if __name__ == '__main__':
    main()
