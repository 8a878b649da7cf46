"""`vla_collect`: scripted-expert demonstrations through the real ROS 2 stack, one bag each.

The stack (separate processes over DDS, all on sim time):
  mujoco_sim (lockstep, realtime_factor 0, randomised) -> camera, odom, ground truth, result
  expert_node (scripted expert, optional OU exploration noise) -> cmd_vel_in + heartbeat
  safety_gate (time_source ros) -> cmd_vel -> mujoco_sim
  instruction_node (text only) -> instruction: starts the simulator's episode clock
The collector publishes the episode's instruction (a paraphrase from the normaliser's TRAIN
split) on `instruction_text`, as an operator would, and records a rosbag2 (mcap) per episode
with BagRecorder.
Resumable: an episode whose `episode.json` exists is skipped. Deterministic given --seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence

from mobile_base.sim.scene import TRAINING
from vla_common.scenarios import SCENARIOS
from vla_learning.common import (add_robot_argument, COLLECT_SEED_BASE, paraphrase_split,
                                 parse_list, pick_instruction, TRAINING_RANDOMIZATION)

#: What the bags keep: the expert's command (= the action label), the gated command, the
#: camera, odometry, ground truth, the instruction, the result and the gate's state.
COLLECT_TOPICS: Dict[str, str] = {
    '/camera/image_raw': 'sensor_msgs/msg/Image',
    '/odom': 'nav_msgs/msg/Odometry',
    '/ground_truth/odom': 'nav_msgs/msg/Odometry',
    '/cmd_vel_in': 'geometry_msgs/msg/Twist',
    '/heartbeat': 'std_msgs/msg/Header',
    '/cmd_vel': 'geometry_msgs/msg/Twist',
    '/instruction_text': 'std_msgs/msg/String',
    '/episode_result': 'vla_msgs/msg/EpisodeResult',
    '/safety_gate/state': 'vla_msgs/msg/SafetyState',
}

#: A bag without messages on one of these is not a demonstration (re-recorded).
REQUIRED_TOPICS = ('/camera/image_raw', '/cmd_vel_in', '/cmd_vel', '/odom',
                   '/ground_truth/odom', '/instruction_text', '/episode_result')


@dataclass(frozen=True)
class EpisodePlan:
    scenario: str
    seed: int
    instruction: str
    noise: float

    @property
    def name(self) -> str:
        return f'{self.scenario}_s{self.seed:04d}'


def plan_episodes(scenarios: Sequence[str] = SCENARIOS, per_scenario: int = 9,
                  seed: int = 0, noisy_every: int = 3, expert_noise: float = 0.08,
                  seed_base: int = COLLECT_SEED_BASE) -> List[EpisodePlan]:
    """The episode list. Placement seeds are shared by the left and right variant of a layout
    (same scene, only the words differ), so the text alone must decide the side. Every
    `noisy_every`-th seed is driven with exploration noise (recoveries in the data)."""
    train, _ = paraphrase_split()
    plans = []
    for i in range(per_scenario):
        placement = seed_base + seed * 1000 + i
        noise = expert_noise if noisy_every and i % noisy_every == noisy_every - 1 else 0.0
        for sc in scenarios:
            text = pick_instruction(train, sc, placement, f'collect{seed}')
            plans.append(EpisodePlan(sc, placement, text, noise))
    return plans


def collect_stack(randomization: Mapping[str, object], expert_noise: float = 0.0,
                  noise_seed: int = 0):
    """StackSpec: mujoco_sim (lockstep, fast, `randomization`, collection placements) +
    safety_gate + expert_node + instruction_node, all on sim time."""
    from vla_bringup.stacks import NodeSpec, ParamFile, StackSpec

    def spec(name: str, package: str, executable: str, extra: Sequence[ParamFile] = ()
             ) -> NodeSpec:
        files = (ParamFile(package, f'config/{executable}.param.yaml'),) + tuple(extra)
        return NodeSpec(name, package, executable, files).with_parameters(use_sim_time=True)

    overrides = ParamFile('vla_bringup', 'config/mobile.param.yaml')
    # Lockstep on the expert's own command, and patient: on a loaded machine a starved expert
    # must hold the simulation, not let it step on into the gate's watchdogs.
    sim = spec('mujoco_sim', 'mobile_base', 'mujoco_sim', (overrides,)).with_parameters(
        realtime_factor=0.0, lockstep=True, lockstep_topic='cmd_vel_in', lockstep_timeout=10.0,
        auto_start=False, placement='collect', **dict(randomization))
    gate = spec('safety_gate', 'vla_safety', 'safety_gate', (overrides,)).with_parameters(
        mode='base', time_source='ros')
    # The expert sees the world: it reacts to the simulator's mid-episode change.
    expert = spec('expert_node', 'mobile_base', 'expert_node').with_parameters(
        noise_std=float(expert_noise), noise_seed=int(noise_seed),
        perturbation=str(randomization.get('perturbation', 'none')))
    # The instruction the collector types reaches the simulator as in deployment: its
    # episode clock starts there.
    instruction = spec('instruction_node', 'vla_instruction',
                       'instruction_node').with_parameters(voice_enabled=False)
    return StackSpec('collect', (sim, gate, expert, instruction), {'sim': 'mujoco'})


def run_collection(out: str, plans: Sequence[EpisodePlan],
                   randomization: Mapping[str, object] = TRAINING_RANDOMIZATION,
                   seed: int = 0, timeout: float = 120.0, retries: int = 5,
                   quiet: bool = True, progress: bool = True) -> List[dict]:
    """Record every planned episode not recorded yet; returns the episode.json records (the
    robot-agnostic loop of `vla_learning.collection` with the mobile base's plugin)."""
    from vla_learning.collection import run_collection as run
    from vla_learning.robots import mobile

    return run(mobile, out, plans, randomization, seed, timeout, retries, quiet, progress)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='vla_collect', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='data/demos', help='output directory (one dir per '
                        'episode: bag/ + episode.json)')
    parser.add_argument('--scenarios', default=','.join(SCENARIOS),
                        help='comma-separated scenario names')
    parser.add_argument('--episodes-per-scenario', type=int, default=9)
    parser.add_argument('--seed', type=int, default=0, help='collection seed (placements, '
                        'paraphrases, noise)')
    parser.add_argument('--training', default='nominal', choices=sorted(TRAINING),
                        help='the simulator randomisation (mobile_base.sim.scene.TRAINING): '
                        'nominal = the nominal suite\'s; wide = what shift varies except '
                        'the held-out palette')
    parser.add_argument('--randomization', default='',
                        help='JSON dict of mujoco_sim parameters merged into the --training '
                        'randomisation')
    parser.add_argument('--expert-noise', type=float, default=0.08,
                        help='OU exploration noise std of the noisy episodes (m/s, rad/s)')
    parser.add_argument('--noisy-every', type=int, default=3,
                        help='every N-th placement is driven with noise (0: none)')
    parser.add_argument('--timeout', type=float, default=120.0, help='wall s per episode')
    parser.add_argument('--verbose', action='store_true', help='show the nodes\' output')
    add_robot_argument(parser, 'arm: the tabletop tasks through the arm stack (--scenarios '
                       'names arm tasks; the arm\'s randomisation and expert noise)')
    args = parser.parse_args(argv)
    if args.robot == 'arm':
        return collect_arm(args)
    scenarios = parse_list(args.scenarios, SCENARIOS)
    if args.episodes_per_scenario * len(scenarios) > 72:
        print('[collect] note: more than 72 demonstrations requested', file=sys.stderr)
    plans = plan_episodes(scenarios, args.episodes_per_scenario, args.seed,
                          args.noisy_every, args.expert_noise)
    randomization = {**TRAINING[args.training], **json.loads(args.randomization or '{}')}
    if randomization.get('palette') == 'held_out':
        parser.error('the held_out palette is the shift suite\'s: never collected')
    t0 = time.monotonic()
    records = run_collection(args.out, plans, randomization, args.seed, args.timeout,
                             quiet=not args.verbose)
    succeeded = sum(bool(r.get('success')) for r in records)
    print(f'[collect] {len(records)}/{len(plans)} episodes in {args.out} '
          f'({succeeded} stopped at the cup on the commanded side), '
          f'{time.monotonic() - t0:.0f} s')
    return 0 if len(records) == len(plans) else 1


def collect_arm(args) -> int:
    """`vla_collect --robot arm`: the shared collection loop with vla_learning.robots.arm."""
    from vla_common.arm_tasks import TASK_NAMES
    from vla_learning.collection import run_collection
    from vla_learning.robots import arm

    tasks = parse_list(args.scenarios, TASK_NAMES) if args.scenarios != ','.join(SCENARIOS) \
        else list(TASK_NAMES)
    plans = arm.plan_episodes(tasks, args.episodes_per_scenario, args.seed, args.noisy_every)
    t0 = time.monotonic()
    records = run_collection(arm, args.out, plans, arm.TRAINING_RANDOMIZATION, args.seed,
                             args.timeout, quiet=not args.verbose)
    print(f'[collect] {len(records)}/{len(plans)} successful arm demonstrations in {args.out}, '
          f'{time.monotonic() - t0:.0f} s')
    return 0 if len(records) == len(plans) else 1


if __name__ == '__main__':
    sys.exit(main())
