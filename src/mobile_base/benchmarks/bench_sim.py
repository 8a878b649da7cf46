#!/usr/bin/env python3
"""Benchmark of the MuJoCo simulator: prints figures, asserts nothing.

    source scripts/activate.sh
    python src/mobile_base/benchmarks/bench_sim.py [--quick] [--no-ros]

Figures:
  1. physics steps per second (the world's step loop: base control + odometry + episode checks)
  2. rendered frames per second at 224x224 and 640x480, and scans per second
  3. real-time factor of an expert episode by direct stepping (camera 10 Hz, scan 10 Hz)
  4. real-time factor in lockstep over DDS: mujoco_sim (realtime_factor 0, lockstep) driven by
     expert_node, and the same through the safety gate (vla_safety safety_gate) when it is
     installed: expert -> cmd_vel_in -> gate -> cmd_vel -> sim
  5. the real-time factor the sim holds with realtime_factor 1.0 (from /diagnostics)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import statistics
import sys
import tempfile
import time
from typing import Dict, List, Optional


def timed(fn, min_seconds: float) -> float:
    """Calls of `fn` per second, over at least `min_seconds`."""
    fn()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return n / elapsed


def bench_direct(seconds: float, episodes: int) -> Dict[str, float]:
    import mujoco
    from vla_common.planar import Twist2D
    from mobile_base.core.scenarios import make_instance
    from mobile_base.sim.runner import run_expert
    from mobile_base.sim.world import MujocoWorld, SimOptions
    from vla_common.scenarios import SCENARIOS

    out: Dict[str, float] = {}
    world = MujocoWorld(SimOptions())
    # Turning on the spot with no time limit: the episode stays RUNNING, so every step pays
    # for the episode checks (clearance, side) as it does in a real episode.
    endless = dataclasses.replace(make_instance('2box_hori_left', 0), time_limit=1e9)
    world.reset(endless)

    def step5() -> None:
        world.set_command(Twist2D(0.0, 0.0, 0.5))
        world.step(5)

    out['raw mj_step per s'] = timed(lambda: mujoco.mj_step(world.model, world.data), seconds)
    world.reset(endless)
    out['world.step(5) physics steps per s (episode running)'] = 5 * timed(step5, seconds)
    assert not world.done
    out['scans per s (360 rays)'] = timed(world.scan, seconds)
    out['render FPS 224x224'] = timed(lambda: (step5(), world.render()), seconds)
    world.close()
    big = MujocoWorld(SimOptions(image_width=640, image_height=480))
    big.reset(endless)
    out['render FPS 640x480'] = timed(lambda: (big.step(5), big.render()), seconds)
    big.close()

    world = MujocoWorld(SimOptions())
    factors = []
    for k in range(episodes):
        name = SCENARIOS[k % len(SCENARIOS)]
        start = time.perf_counter()
        # Camera and scan at 10 Hz of sim time: one frame every 2 control steps at 20 Hz.
        trace = run_expert(world, name, k, render_every=2)
        for _ in range(len(trace.poses) // 2):
            world.scan()
        factors.append(trace.summary.time / (time.perf_counter() - start))
    world.close()
    out['episode RTF, direct stepping, camera+scan 10 Hz'] = statistics.median(factors)
    return out


def _exe(pkg: str, name: str) -> Optional[List[str]]:
    from ament_index_python.packages import (get_package_prefix, get_package_share_directory,
                                             PackageNotFoundError)
    try:
        path = pathlib.Path(get_package_prefix(pkg)) / 'lib' / pkg / name
        cfg = pathlib.Path(get_package_share_directory(pkg)) / 'config' / f'{name}.param.yaml'
    except PackageNotFoundError:
        return None
    if not path.exists():
        return None
    args = [str(path), '--ros-args']
    if cfg.exists():
        args += ['--params-file', str(cfg)]
    return args


def bench_ros(episodes: int, log_dir: str) -> Dict[str, str]:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from vla_common.qos import LATCHED_QOS
    from vla_msgs.msg import EpisodeResult
    from vla_msgs.srv import StartEpisode
    from vla_testing.ros import (call_service, isolate_ros_environment, MessageCollector,
                                 NodeProcess, pick_domain_id, RosTestContext)

    isolate_ros_environment(pick_domain_id())
    out: Dict[str, str] = {}
    scenarios = ['1box_vert_left', '2box_hori_right', '1box_hori_right', '2box_vert_left']

    def run_setup(label: str, with_gate: bool) -> None:
        procs: List[NodeProcess] = []
        ctx = RosTestContext()
        try:
            # No operator here: the episode clock and the expert start with each episode.
            sim_args = _exe('mobile_base', 'mujoco_sim') + [
                '-p', 'realtime_factor:=0.0', '-p', 'lockstep:=true',
                '-p', 'wait_for_instruction:=false',
                '-p', f'scenario:={scenarios[0]}', '-p', 'seed:=100']
            if with_gate:   # the gate republishes cmd_vel: pace on the expert's own command
                sim_args += ['-p', 'lockstep_topic:=cmd_vel_in']
            expert_args = _exe('mobile_base', 'expert_node') + [
                '-p', 'wait_for_instruction:=false']
            if with_gate:
                gate = _exe('vla_safety', 'safety_gate')
                if gate is None:
                    out[label] = 'skipped: vla_safety safety_gate is not installed'
                    return
                # The gate's watchdogs and ramps follow sim time, like the rest of the loop.
                gate = gate + ['-p', 'use_sim_time:=true', '-p', 'time_source:=ros']
                procs.append(NodeProcess(gate, 'safety_gate', log_dir))
            else:
                expert_args = expert_args + ['-r', 'cmd_vel_in:=cmd_vel']
                # the expert drives the sim itself: it is the one allowed cmd_vel publisher
                sim_args = sim_args + ['-p', 'cmd_vel_publisher:=expert_node']
            procs.append(NodeProcess(sim_args, 'mujoco_sim', log_dir))
            procs.append(NodeProcess(expert_args, 'expert_node', log_dir))
            procs[-2].wait_for_output('mujoco_sim ready', timeout=60.0)
            procs[-1].wait_for_output('expert_node ready', timeout=60.0)
            node = ctx.create_node('bench_probe')
            results = MessageCollector(node, EpisodeResult, 'episode_result', LATCHED_QOS)
            rows = []
            for k in range(episodes):
                name = scenarios[k % len(scenarios)]
                if k > 0:
                    results.clear()
                    resp = call_service(node, StartEpisode, 'mujoco_sim/start_episode',
                                        StartEpisode.Request(scenario=name, seed=100 + k),
                                        timeout=30.0)
                    assert resp.success, resp.message
                start = time.monotonic()
                end = results.wait(1, timeout=300.0, predicate=lambda m, n=name: (
                    m.scenario == n and m.outcome != EpisodeResult.OUTCOME_RUNNING))
                wall = time.monotonic() - start
                rows.append((name, end.outcome, end.passed_side == end.commanded_side,
                             end.time, wall))
            outcomes = {1: 'REACHED', 2: 'COLLIDED', 3: 'TIMED_OUT', 4: 'STOPPED_OUTSIDE',
                        5: 'OVERSHOT', 6: 'MOVED_AFTER_STOP'}
            rtf = statistics.median(r[3] / r[4] for r in rows)
            summary = ', '.join(f'{r[0]} {outcomes.get(r[1], r[1])}'
                                f'{"" if r[2] else " (WRONG SIDE)"} {r[3]:.1f} s sim / '
                                f'{r[4]:.1f} s wall' for r in rows)
            out[label] = f'RTF {rtf:.2f} (median); {summary}'
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not crash
            out[label] = f'failed: {type(exc).__name__}: {exc}'
            for p in procs:
                print(f'--- {p.name} ---\n{p.output()[-2000:]}', file=sys.stderr)
        finally:
            for p in procs:
                p.stop()
            ctx.destroy()

    run_setup('lockstep over DDS: mujoco_sim + expert_node', with_gate=False)
    run_setup('lockstep, full base stack: expert -> safety_gate -> mujoco_sim', with_gate=True)

    # Real time: does the sim keep up with realtime_factor 1.0?
    ctx = RosTestContext()
    sim = NodeProcess(_exe('mobile_base', 'mujoco_sim'), 'mujoco_sim_rt', log_dir)
    try:
        sim.wait_for_output('mujoco_sim ready', timeout=60.0)
        node = ctx.create_node('bench_diag')
        diags = MessageCollector(node, DiagnosticArray, '/diagnostics')
        diags.wait(6, timeout=30.0, predicate=lambda m: m.status[0].name.startswith('mujoco'))
        values = [float(next(kv.value for kv in m.status[0].values
                             if kv.key == 'real_time_factor'))
                  for m in diags.messages[-5:]]
        out['realtime_factor 1.0 holds'] = f'RTF {statistics.median(values):.3f} (median of 5 s)'
    except Exception as exc:  # noqa: BLE001
        out['realtime_factor 1.0 holds'] = f'failed: {exc}'
    finally:
        sim.stop()
        ctx.destroy()
    del rclpy
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='shorter timings, fewer episodes')
    parser.add_argument('--no-ros', action='store_true', help='skip the DDS benchmarks')
    args = parser.parse_args()
    seconds = 1.0 if args.quick else 3.0
    episodes = 2 if args.quick else 4
    print(f'mobile_base simulator benchmark (MUJOCO_GL={os.environ.get("MUJOCO_GL", "")}, '
          f'{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f})')
    for key, value in bench_direct(seconds, 2 * episodes).items():
        print(f'  {key:55s} {value:10.1f}')
    if not args.no_ros:
        with tempfile.TemporaryDirectory() as log_dir:
            for key, value in bench_ros(episodes, log_dir).items():
                print(f'  {key}:\n      {value}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
