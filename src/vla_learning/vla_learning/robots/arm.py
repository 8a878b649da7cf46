"""The arm in the learning loop: its tasks, demonstrations, frames and evaluation episodes.

Demonstrations go through the arm stack itself (separate processes over DDS, all on sim
time), with the scripted expert standing in for the policy:
  arm_sim (lockstep, realtime_factor 0, `collect` placements, randomised) -> cameras, joint
    states, tool pose, episode result
  arm_expert (scripted, optional OU noise) -> arm_cmd_in + heartbeat; ends its own episode
  safety_gate (arm, time_source ros) -> arm_cmd -> realman_bridge -> rm_driver topics
  instruction_node (text only, the table's objects) -> instruction: starts the episode clock
The collector types the episode's instruction (a TRAIN phrasing of `split_arm_paraphrases`)
on `instruction_text`, as an operator would, and records a rosbag2 (mcap) per episode.

A frame (10 Hz, one per scene-camera image): the image, the state (the joint positions of
`joint_states`, rad, the model's joint order), the action label (the expert's ArmCommand on
`arm_cmd_in` at that time: tool-point translation in m and rotation in rad *per control tick*
in the arm base frame, and the gripper 0 open .. 1 closed) and the done label (the expert has
ended its task: it commands exactly zero motion with the gripper open from its retract-and-hold
on, docs/arm.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
from vla_common.arm_tasks import OBJECTS, RECEPTACLES, TASK_NAMES

#: What collection bags keep: the expert's command (the action label), the gated command, the
#: scene camera, joint states, tool pose, the instruction, the result and the gate's state.
COLLECT_TOPICS: Dict[str, str] = {
    '/camera/image_raw': 'sensor_msgs/msg/Image',
    '/joint_states': 'sensor_msgs/msg/JointState',
    '/rm_driver/udp_arm_position': 'geometry_msgs/msg/Pose',
    '/arm_cmd_in': 'vla_msgs/msg/ArmCommand',
    '/heartbeat': 'std_msgs/msg/Header',
    '/arm_cmd': 'vla_msgs/msg/ArmCommand',
    '/instruction_text': 'std_msgs/msg/String',
    '/arm_sim/episode_result': 'vla_msgs/msg/ArmEpisodeResult',
    '/safety_gate/state': 'vla_msgs/msg/SafetyState',
}
#: A bag without messages on one of these is not a demonstration (recorded again).
REQUIRED_TOPICS = ('/camera/image_raw', '/joint_states', '/arm_cmd_in', '/arm_cmd',
                   '/instruction_text', '/arm_sim/episode_result')

#: The simulator's randomisation during collection (arm_sim parameters).
TRAINING_RANDOMIZATION: Dict[str, object] = {'visual_jitter': 0.5, 'start_noise': 0.02}
#: OU exploration noise (m/s of the tool point) of the noisy demonstrations.
EXPERT_NOISE = 0.03
#: s the expert holds still at home before it ends its task (the done-labelled frames; the
#: shipped model's data: 1.5 s).
EXPERT_HOLD = 1.5
#: arm_sim's episode limit in collection only (sim s; evaluation keeps the task's 30 s). With
#: exploration noise the expert dithers around each waypoint until the noise lets it within
#: tolerance: under the interpolating controller 18 of 44 noisy attempts ran into the 30 s
#: (blue block tray 6/6, yellow 5/6), so the recovery data had one block episode.
COLLECT_TIME_LIMIT = 60.0
#: arm_sim's lockstep in collection and evaluation: on the controller's own command (the
#: expert's or the policy's `arm_cmd_in`, before the gate), patient (wall s), so that a
#: starved controller holds the simulation on a loaded machine. The gate's CLOCK_STALLED
#: watchdog (wall s the sim clock may stand still) must outlast that wait: with its default
#: 0.25 s the gate dropped every command sent after such a pause (under load 20-29 it was
#: most of them: docs/arm.md, "Lockstep").
LOCKSTEP = {'lockstep': True, 'lockstep_topic': 'arm_cmd_in', 'lockstep_timeout': 4.0}
GATE_CLOCK_TIMEOUT = 5.0     # the gate's largest
#: The evaluation runs the simulation in real time (lockstep only holds it when the stack
#: falls behind): the policy's inference then takes the sim time it takes on the wall clock,
#: as on the robot. As fast as possible, a fast simulation stepped on through the policy's
#: inference, so a chunk was 0.10-0.17 s of sim time old when it arrived, depending on how
#: fast the simulation ran on the machine's load of the moment (docs/arm.md).
EVAL_REALTIME_FACTOR = 1.0
PARAPHRASE_HELD_OUT = 0.25
PARAPHRASE_SPLIT_SEED = 0
ARM_MODEL = 'RM75'

# --- the dataset (vla_convert, vla_train) ---------------------------------------------------
ROBOT_TYPE = 'realman_rm75_mujoco'
ACTION_SPACE = 'arm'
ACTION_NAMES = ('dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper')
STATE_NAMES = tuple(f'joint{i}' for i in range(1, 8))      # rad, joint_states order
MIRROR = None            # not mirrored: a mirrored arm is not the same arm's joint state
HAS_POSE = False
HAS_DONE = True          # done labels from the expert's final hold
NORMALIZER_QUANTILE = 0.0
#: The table's objects and receptacles: what the arm stack's instruction node accepts.
KNOWN_TARGETS = tuple(OBJECTS) + tuple(RECEPTACLES)


def usable(record: Dict[str, object]) -> bool:
    """A demonstration to learn from: the expert ended its task and the simulator judged it a
    success."""
    return bool(record.get('success'))


def paraphrase_split() -> Tuple[Dict[str, List[str]], Dict[str, List[str]]]:
    """(train, held_out) phrasings per task (Korean, English and mixed)."""
    from vla_instruction.core.tabletop import split_arm_paraphrases

    return split_arm_paraphrases(PARAPHRASE_HELD_OUT, PARAPHRASE_SPLIT_SEED)


@dataclass(frozen=True)
class EpisodePlan:
    task: str
    seed: int
    instruction: str
    noise: float

    @property
    def name(self) -> str:
        return f'{self.task}_s{self.seed:04d}'


def plan_episodes(tasks: Sequence[str] = TASK_NAMES, per_task: int = 30, seed: int = 0,
                  noisy_every: int = 3, expert_noise: float = EXPERT_NOISE
                  ) -> List[EpisodePlan]:
    """The demonstrations: `per_task` placements (the `collect` namespace) per task. The
    tasks of a family share a placement for a seed, so only the words tell them apart; every
    `noisy_every`-th seed is driven with exploration noise (recoveries in the data)."""
    from vla_learning.common import pick_instruction

    train, _ = paraphrase_split()
    plans = []
    for i in range(per_task):
        placement = seed * 1000 + i
        noise = expert_noise if noisy_every and i % noisy_every == noisy_every - 1 else 0.0
        for task in tasks:
            text = pick_instruction(train, task, placement, f'collect{seed}')
            plans.append(EpisodePlan(task, placement, text, noise))
    return plans


def collect_stack(randomization: Mapping[str, object] = TRAINING_RANDOMIZATION,
                  expert_noise: float = 0.0, noise_seed: int = 0, arm_model: str = ARM_MODEL):
    """The arm stack (sim:=mujoco) with the scripted expert in the policy's place: arm_sim in
    lockstep (`LOCKSTEP`) as fast as it runs, `collect` placements, scene camera only, the
    episode limit `COLLECT_TIME_LIMIT`."""
    from vla_bringup.stacks import arm_stack, NodeSpec, ParamFile, StackSpec

    stack = arm_stack(arm_model=arm_model, sim='mujoco', voice='false', policy=False)
    nodes = []
    for node in stack.nodes:
        if node.name == 'arm_sim':
            node = node.with_parameters(realtime_factor=0.0, auto_start=False,
                                        placement='collect', wrist_camera=False,
                                        time_limit=COLLECT_TIME_LIMIT, **LOCKSTEP,
                                        **dict(randomization))
        elif node.name == 'safety_gate':
            node = node.with_parameters(clock_timeout=GATE_CLOCK_TIMEOUT)
        nodes.append(node)
    expert = NodeSpec('arm_expert', 'arm_sim', 'arm_expert',
                      (ParamFile('arm_sim', 'config/arm_expert.param.yaml'),)).with_parameters(
        use_sim_time=True, placement='collect', noise_std=float(expert_noise),
        noise_seed=int(noise_seed), hold_time=EXPERT_HOLD)
    return StackSpec('collect_arm', tuple(nodes) + (expert,), dict(stack.arguments))


def session(stack, log=None):
    from vla_bringup.arm_session import ArmEpisodeSession

    return ArmEpisodeSession(stack, log=log)


def run_demonstration(sess, plan: EpisodePlan, timeout: float):
    """One demonstration through `sess`; the report (success: the expert ended its task and
    the simulator judged it done)."""
    return sess.run_episode(plan.task, plan.seed, plan.instruction, 'expert', timeout=timeout)


def record_of(plan: EpisodePlan, report) -> Dict[str, object]:
    return {'task': plan.task, 'seed': plan.seed, 'instruction': plan.instruction,
            'noise': plan.noise, 'name': plan.name, 'outcome': report.outcome,
            'ended_by': report.ended_by, 'success': report.success, 'time': report.time,
            'grasped': report.grasped, 'placed': report.placed,
            'workspace_violation': report.workspace_violation, 'wall_time': report.wall_time}


# --------------------------------------------------------------------------- frames
MIN_HOLD = 1.0    # s of done frames a demonstration must end with


def done_labels(actions: np.ndarray) -> np.ndarray:
    """(N,) bool from the expert's commands (N, 7): done from the first command of its final
    hold on (zero motion, gripper open) to the end. ValueError when it never holds at the end
    or the last command is not part of the hold."""
    still = np.all(actions[:, :6] == 0.0, axis=1) & (actions[:, 6] == 0.0)
    if not still[-1]:
        raise ValueError('the expert did not end with its hold: no done label')
    moving = np.nonzero(~still)[0]
    done = np.zeros(len(actions), bool)
    done[(moving[-1] + 1) if len(moving) else 0:] = True
    return done


def read_episode(bag: str, image_size: int) -> Dict[str, object]:
    """A collection bag -> frames at the scene camera's rate (see the module docstring)."""
    from vla_bringup.bags import deserialize, read_bag
    from vla_common.arm_models import arm_model
    from vla_common.image import image_to_rgb, resize_rgb

    joint_names = [j.name for j in arm_model(ARM_MODEL).joints]
    frames: List[Tuple[float, np.ndarray]] = []
    joints: List[Tuple[float, np.ndarray]] = []
    commands: List[Tuple[float, np.ndarray]] = []
    gated: List[Tuple[float, np.ndarray]] = []
    instruction, result = '', None
    for msg in read_bag(bag):
        m = deserialize(msg)
        if msg.topic == '/camera/image_raw':
            frames.append((_stamp(m.header),
                           resize_rgb(image_to_rgb(m), (image_size, image_size))))
        elif msg.topic == '/joint_states':
            index = {n: i for i, n in enumerate(m.name)}
            joints.append((_stamp(m.header),
                           np.array([m.position[index[n]] for n in joint_names])))
        elif msg.topic in ('/arm_cmd_in', '/arm_cmd'):
            (commands if msg.topic == '/arm_cmd_in' else gated).append(
                (_stamp(m.header), np.array(list(m.ee_delta) + [m.gripper], np.float64)))
        elif msg.topic == '/instruction_text':
            instruction = m.data
        elif msg.topic == '/arm_sim/episode_result' and m.outcome != 0:
            result = m
    if not frames or not commands or not joints or result is None:
        raise ValueError(f'{bag}: images, joint states, commands and a result are needed')
    t_first, t_end = commands[0][0], float(result.header.stamp.sec
                                           + result.header.stamp.nanosec * 1e-9)
    # Frames from the expert's first command to the result; the action of a frame is the
    # expert's newest command at or after the image (it decided on what it saw then).
    frames = [f for f in frames if t_first - 1e-6 <= f[0] <= t_end + 1e-6]
    ts = np.array([f[0] for f in frames])
    action = _next_value(commands, ts)
    done = done_labels(action)
    if done.sum() * 0.1 < MIN_HOLD - 1e-6:
        raise ValueError(f'{bag}: only {done.sum() * 0.1:.1f} s of hold (>= {MIN_HOLD} s)')
    return {'images': np.stack([f[1] for f in frames]), 'timestamp': ts - ts[0],
            'state': _previous_value(joints, ts), 'action': action, 'done': done,
            'action_gated': _next_value(gated, ts), 'instruction': instruction,
            'outcome': int(result.outcome)}


def _stamp(header) -> float:
    return float(header.stamp.sec) + float(header.stamp.nanosec) * 1e-9


def _previous_value(series: Sequence[Tuple[float, np.ndarray]], ts: np.ndarray) -> np.ndarray:
    t = np.array([s[0] for s in series])
    idx = np.clip(np.searchsorted(t, ts + 1e-6, side='right') - 1, 0, len(series) - 1)
    return np.stack([series[i][1] for i in idx])


def _next_value(series: Sequence[Tuple[float, np.ndarray]], ts: np.ndarray) -> np.ndarray:
    t = np.array([s[0] for s in series])
    idx = np.clip(np.searchsorted(t, ts - 1e-6, side='left'), 0, len(series) - 1)
    return np.stack([series[i][1] for i in idx])


# --------------------------------------------------------------------------- evaluation
def plan_evaluation(tasks: Sequence[str] = TASK_NAMES, seeds: int = 5, seed_base: int = 0,
                    instructions: str = 'held_out') -> List[Dict[str, object]]:
    """`seeds` placements per task from the simulator's `evaluate` namespace (disjoint from
    `collect` by construction, arm_sim.core.scene.placement_key), each with a phrasing of
    `instructions`."""
    from vla_common.arm_tasks import arm_task
    from vla_learning.common import eval_instructions

    text = eval_instructions(instructions, paraphrase_split, lambda task: arm_task(task).korean)
    return [{'task': t, 'seed': seed_base + i, 'instruction': text(t, seed_base + i)}
            for i in range(seeds) for t in tasks]


def eval_params_file(path: str, randomization: Mapping[str, object]) -> str:
    """A user parameter file over the arm stack: arm_sim in real time with lockstep
    (`LOCKSTEP`) on the `evaluate` placements with the training randomisation, the gate's
    clock watchdog outlasting the lockstep wait; text instructions only."""
    from vla_bringup.stacks import write_params_file

    # auto_start stays on: its idle start-up episode publishes /clock, on which the policy
    # node's start-up (configure, activate) runs.
    sim = {'realtime_factor': EVAL_REALTIME_FACTOR, 'placement': 'evaluate',
           'wrist_camera': False,
           **LOCKSTEP, **{k: float(v) for k, v in randomization.items()}}
    return write_params_file(path, {'arm_sim': sim,
                                    'safety_gate': {'clock_timeout': GATE_CLOCK_TIMEOUT},
                                    'instruction_node': {'voice_enabled': False}})


def evaluation_stack(model: str, out: str,
                     randomization: Mapping[str, object] = TRAINING_RANDOMIZATION):
    """The arm stack that evaluates `model` (its parameter file written into `out`)."""
    import os

    from vla_bringup.stacks import arm_stack

    params = eval_params_file(os.path.join(out, 'params_arm.yaml'), randomization)
    return arm_stack(arm_model=ARM_MODEL, sim='mujoco', model=os.path.abspath(model),
                     params_file=params, voice='false')


def episode_key(ep: Mapping[str, object]) -> str:
    return f'{ep["task"]}/{ep["seed"]}/{ep["instruction"]}'


def evaluation_record(ep: Mapping[str, object], report) -> Dict[str, object]:
    return {'key': episode_key(ep), 'task': report.task, 'seed': report.seed,
            'instruction': report.instruction, 'outcome': report.outcome,
            'ended_by': report.ended_by, 'task_result': report.task_result,
            'success': report.success, 'time': report.time, 'grasped': report.grasped,
            'placed': report.placed, 'released': report.released,
            'retracted': report.retracted, 'still': report.still,
            'workspace_violation': report.workspace_violation,
            'hard_stops': report.hard_stops, 'commands_ignored': report.commands_ignored,
            'disturbed': list(report.disturbed), 'inferences': report.inferences,
            'latency_p50_ms': report.latency_p50_ms,
            'safety_interventions': report.safety_interventions,
            'policy_error': report.policy_error, 'wall_time': report.wall_time}


def run_evaluation(model: str, out: str, episodes: Sequence[Mapping[str, object]],
                   randomization: Mapping[str, object] = TRAINING_RANDOMIZATION,
                   timeout: float = 180.0, quiet: bool = True, record_bags: bool = False,
                   bar=None, restarts: int = 10, cpu_hog_processes: int = 0) -> List[dict]:
    """Run `episodes` through the arm stack (arm_sim, safety_gate, policy_node with `model`,
    realman_bridge, instruction_node), beside `cpu_hog_processes` busy processes; append each
    record to <out>/episodes.jsonl (resumable). An episode during which a node died is run
    again in a fresh stack."""
    import os
    from contextlib import contextmanager

    from vla_bringup.arm_session import ArmEpisodeSession
    from vla_bringup.bags import ARM_TOPICS
    from vla_learning.evaluate import cpu_hog, run_resumable

    stack = evaluation_stack(model, out, randomization)
    log = (lambda _n, _l: None) if quiet else None

    @contextmanager
    def open_session():
        with cpu_hog(cpu_hog_processes), ArmEpisodeSession(
                stack, log=log, record_topics=ARM_TOPICS if record_bags else None) as session:
            yield session

    def run_one(session, ep):
        bag = (os.path.join(out, 'bags', f'{ep["task"]}_s{ep["seed"]}') if record_bags else '')
        return evaluation_record(ep, session.run_episode(
            str(ep['task']), int(ep['seed']), str(ep['instruction']), model, timeout=timeout,
            bag_path=bag))

    return run_resumable(
        episodes, os.path.join(out, 'episodes.jsonl'), episode_key, open_session, run_one,
        lambda rec: (f'{rec["task"]} s{rec["seed"]}: {rec["outcome"]} '
                     f'(ended by {rec["ended_by"] or "-"})'), bar, restarts)


def summarize(records: Sequence[Mapping[str, object]]) -> Dict[str, object]:
    """Success rate with its Wilson 95 % interval, and what went wrong how often."""
    from vla_learning.common import wilson_interval

    n = len(records)
    k = sum(bool(r['success']) for r in records)
    lo, hi = wilson_interval(k, n)
    ended = [r for r in records if r['ended_by'] == 'policy']
    return {'episodes': n, 'successes': k, 'success': k / n if n else float('nan'),
            'wilson95': [lo, hi],
            'ended_by_policy': len(ended) / n if n else float('nan'),
            'grasped': sum(bool(r['grasped']) for r in records) / n if n else float('nan'),
            'placed': sum(bool(r['placed']) for r in records) / n if n else float('nan'),
            'timed_out': sum(r['outcome'] == 'timed_out' for r in records),
            'workspace_violations': sum(bool(r['workspace_violation']) for r in records),
            'hard_stops': sum(int(r['hard_stops']) for r in records),
            'time': float(np.mean([r['time'] for r in records if r['success']]))
            if k else float('nan'),
            'inferences': float(np.mean([r['inferences'] for r in records])) if n else 0.0,
            'latency_p50_ms': float(np.median([r['latency_p50_ms'] for r in records]))
            if n else 0.0}


def results_markdown(records: Sequence[Mapping[str, object]], model: str,
                     instructions: str) -> str:
    """Markdown: the whole run, then per task, then every failure."""
    from vla_learning.common import report_text

    def row(name: str, rs: Sequence[Mapping[str, object]]) -> str:
        s = summarize(rs)
        lo, hi = s['wilson95']
        return (f'| {name} | {s["episodes"]} | {s["success"]:.0%} ({s["successes"]}/'
                f'{s["episodes"]}) | {lo:.0%}–{hi:.0%} | {s["ended_by_policy"]:.0%} | '
                f'{s["grasped"]:.0%} | {s["placed"]:.0%} | {s["workspace_violations"]} | '
                f'{s["time"]:.1f} |')
    lines = [f'Model `{model}`; the arm stack (arm_sim lockstep on sim time, safety_gate, '
             f'policy_node, realman_bridge, instruction_node); `evaluate` placements '
             f'(held out by construction); {instructions} instructions. Success is the '
             'simulator\'s verdict after the policy ended its task (object in the target '
             'region, released, arm retracted and still).', '',
             '| tasks | episodes | success | Wilson 95 % | ended by the policy | grasped | '
             'placed | workspace violations | time to success (s, sim) |',
             '|---|---|---|---|---|---|---|---|---|', row('all', records)]
    for task in TASK_NAMES:
        rs = [r for r in records if r['task'] == task]
        if rs:
            lines.append(row(task, rs))
    return report_text(lines, records, lambda r: (
        f'{r["task"]} seed {r["seed"]} "{r["instruction"]}": {r["outcome"]} '
        f'(ended by {r["ended_by"] or "-"}, policy said {r["task_result"] or "-"}; '
        f'grasped {r["grasped"]}, placed {r["placed"]}, released {r["released"]}, '
        f'retracted {r["retracted"]}, still {r["still"]})'))


def evaluate(model: str, out: str, tasks: Sequence[str] = TASK_NAMES, seeds: int = 5,
             seed_base: int = 0, instructions: str = 'held_out', timeout: float = 180.0,
             quiet: bool = True, progress: bool = True, record_bags: bool = False,
             cpu_hog_processes: int = 0) -> List[dict]:
    """Plan, run (resumable; beside `cpu_hog_processes` busy processes) and write
    <out>/results.md and <out>/summary.json."""
    import json
    import os
    import sys

    from tqdm import tqdm
    from vla_learning.evaluate import load_done

    os.makedirs(out, exist_ok=True)
    episodes = plan_evaluation(tasks, seeds, seed_base, instructions)
    done = load_done(os.path.join(out, 'episodes.jsonl'))
    bar = tqdm(total=len(episodes), initial=sum(episode_key(e) in done for e in episodes),
               desc='evaluate arm', unit='ep', disable=not progress, file=sys.stderr)
    records = run_evaluation(model, out, episodes, timeout=timeout, quiet=quiet,
                             record_bags=record_bags, bar=bar,
                             cpu_hog_processes=cpu_hog_processes)
    bar.close()
    with open(os.path.join(out, 'results.md'), 'w', encoding='utf-8') as f:
        f.write(results_markdown(records, model, instructions))
    with open(os.path.join(out, 'summary.json'), 'w', encoding='utf-8') as f:
        json.dump({'model': model, 'instructions': instructions, 'placement': 'evaluate',
                   'seed_base': seed_base, 'seeds_per_task': seeds,
                   'cpu_hog_processes': cpu_hog_processes,
                   'randomization': dict(TRAINING_RANDOMIZATION), **summarize(records)},
                  f, indent=2)
    return records


__all__ = ['COLLECT_TOPICS', 'EpisodePlan', 'GATE_CLOCK_TIMEOUT', 'LOCKSTEP', 'REQUIRED_TOPICS',
           'TRAINING_RANDOMIZATION', 'collect_stack', 'done_labels', 'evaluate',
           'evaluation_stack', 'paraphrase_split', 'plan_episodes',
           'plan_evaluation', 'read_episode', 'record_of', 'results_markdown',
           'run_demonstration', 'run_evaluation', 'session', 'summarize', 'usable']
