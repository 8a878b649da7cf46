"""`vla_convert`: demonstration bags -> a LeRobot-style Parquet dataset (Hugging Face `datasets`).

Layout (LeRobot v2 naming; `lerobot` itself does not install here):
  <out>/data/chunk-000/episode_000000.parquet   one file per episode, one row per camera frame
  <out>/meta/info.json      features, fps, image size, splits (by EPISODE), source
  <out>/meta/episodes.jsonl one line per episode (scenario, seed, instruction, outcome, split)
  <out>/meta/tasks.jsonl    the instruction texts
  <out>/meta/stats.json     normalisation statistics of the TRAIN split (the policy Normalizer)
Columns: observation.image (Image, already at the policy's input size, OpenCV area resize as
`policy.prepare_image`), observation.state (odometry twist vx, vy, wz), observation.pose
(ground truth x, y, yaw), action (the expert's command at the frame's time = cmd_vel_in, SI),
action.done (the termination label: the expert has ended its task, see below), action.gated
(cmd_vel the gate let through, nearest in time), episode_index, frame_index, timestamp (s
since the first frame), index, task_index, task (the instruction), scenario, next.done,
next.success.
Done labels come from the expert's own stop: it commands exactly zero from the moment it has
stopped at the goal and never before (mobile_base.core.expert), so a frame is done when its
expert command is that stop. The frames run to the simulator's result, which comes only after
the robot came to rest and stayed (docs/mobile_base.md): the hold is kept, at least
MIN_HOLD s of it, or the episode is refused.
Resumable: episodes whose Parquet file exists are skipped (use --force to rebuild).
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from vla_learning.common import add_robot_argument, read_json, ROBOTS, stable_rng, write_json

FPS = 10.0
CHUNKS_DIR = 'data/chunk-000'


def robot_plugin(name: str):
    """The robot's module of the learning loop (`vla_learning.robots.<name>`)."""
    import importlib

    if name not in ROBOTS:
        raise ValueError(f'unknown robot {name!r}; known: {", ".join(ROBOTS)}')
    return importlib.import_module(f'vla_learning.robots.{name}')


#: s of done frames (the expert holding its stop) a demonstration must end with.
MIN_HOLD = 1.0


def done_labels(actions: np.ndarray) -> np.ndarray:
    """(N,) bool: the expert's command at each frame is its stop (exactly zero, after it had
    moved). ValueError if it never stopped, or moved again after stopping."""
    stopped = np.all(actions == 0.0, axis=1)
    moving = np.nonzero(~stopped)[0]
    if not len(moving) or moving[-1] == len(actions) - 1:
        raise ValueError('the expert never stopped: no done label')
    done = np.zeros(len(actions), bool)
    done[moving[-1] + 1:] = True
    if np.any(stopped[moving[0]:moving[-1]]):
        raise ValueError('the expert stopped before the end and moved again')
    return done


def _stamp(header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def _yaw(q) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def read_episode(bag: str, image_size: int) -> Dict[str, object]:
    """One bag -> per-frame arrays (sim-time aligned)."""
    from vla_bringup.bags import deserialize, read_bag
    from vla_common.image import image_to_rgb, resize_rgb

    frames: List[Tuple[float, np.ndarray]] = []
    odom: List[Tuple[float, Tuple[float, float, float]]] = []
    truth: List[Tuple[float, Tuple[float, float, float]]] = []
    cmds: List[Tuple[float, Tuple[float, float, float]]] = []
    gated: List[Tuple[int, Tuple[float, float, float]]] = []
    pending: List[Tuple[int, Tuple[float, float, float]]] = []
    wall_to_sim: List[Tuple[int, float]] = []
    instruction = ''
    result = None
    for m in read_bag(bag):
        msg = deserialize(m)
        if m.topic == '/camera/image_raw':
            rgb = image_to_rgb(msg)
            frames.append((_stamp(msg.header), resize_rgb(rgb, (image_size, image_size))))
        elif m.topic == '/odom':
            t = msg.twist.twist
            odom.append((_stamp(msg.header), (t.linear.x, t.linear.y, t.angular.z)))
        elif m.topic == '/ground_truth/odom':
            p = msg.pose.pose
            truth.append((_stamp(msg.header), (p.position.x, p.position.y,
                                               _yaw(p.orientation))))
            wall_to_sim.append((m.timestamp, _stamp(msg.header)))
        elif m.topic == '/cmd_vel_in':
            pending.append((m.timestamp, (msg.linear.x, msg.linear.y, msg.angular.z)))
        elif m.topic == '/heartbeat':
            # The expert publishes cmd_vel_in then heartbeat (stamped with its sim time).
            if pending:
                cmds.append((_stamp(msg), pending[-1][1]))
                pending.clear()
        elif m.topic == '/cmd_vel':
            gated.append((m.timestamp, (msg.linear.x, msg.linear.y, msg.angular.z)))
        elif m.topic == '/instruction_text':
            instruction = msg.data
        elif m.topic == '/episode_result' and msg.outcome != 0:
            result = msg
    if not frames or not cmds:
        raise ValueError(f'{bag}: no camera frames or no expert commands')
    t_end = result.header.stamp.sec + result.header.stamp.nanosec * 1e-9 if result else math.inf
    cmd_t = np.array([c[0] for c in cmds])
    cmd_v = np.array([c[1] for c in cmds], dtype=np.float32)
    t_first = cmd_t[0] - 1e-3
    # Frames from the expert's first command to the end of the episode.
    frames = [f for f in frames if t_first <= f[0] <= t_end]
    ts = np.array([f[0] for f in frames])
    # The label of a frame: the expert's command computed at that frame's time (lockstep
    # aligns its 20 Hz slots with the 10 Hz camera), else the latest one before.
    idx = np.searchsorted(cmd_t, ts + 1e-3, side='right') - 1
    action = cmd_v[np.clip(idx, 0, len(cmd_v) - 1)]

    def sample(series, t_query):
        st = np.array([s[0] for s in series])
        sv = np.array([s[1] for s in series], dtype=np.float32)
        j = np.clip(np.searchsorted(st, t_query + 1e-6, side='right') - 1, 0, len(sv) - 1)
        return sv[j]

    state = sample(odom, ts) if odom else np.zeros((len(ts), 3), np.float32)
    pose = sample(truth, ts) if truth else np.zeros((len(ts), 3), np.float32)
    # cmd_vel has no stamp: map its receive time to sim time through the ground truth's.
    if gated and wall_to_sim:
        wt = np.array([w[0] for w in wall_to_sim], dtype=np.float64)
        sv = np.array([w[1] for w in wall_to_sim])
        g_t = np.interp(np.array([g[0] for g in gated], dtype=np.float64), wt, sv)
        action_gated = sample(list(zip(g_t, [g[1] for g in gated])), ts)
    else:
        action_gated = np.zeros_like(action)
    done = done_labels(action)
    if done.sum() / FPS < MIN_HOLD - 1e-6:
        raise ValueError(f'{bag}: only {done.sum() / FPS:.1f} s of the expert holding its stop '
                         f'(at least {MIN_HOLD} s needed)')
    return {'images': np.stack([f[1] for f in frames]), 'timestamp': ts - ts[0],
            'state': state, 'pose': pose, 'action': action, 'done': done,
            'action_gated': action_gated, 'instruction': instruction,
            'outcome': int(result.outcome) if result else 0}


def features(image_size: int, robot=None):
    """The columns (`robot`: its plugin; None: the mobile base)."""
    from datasets import Features, Image, Sequence as Seq, Value

    robot = robot or robot_plugin('mobile')
    actions, states = len(robot.ACTION_NAMES), len(robot.STATE_NAMES)
    pose = {'observation.pose': Seq(Value('float32'), length=3)} if robot.HAS_POSE else {}
    done = {'action.done': Value('bool')} if robot.HAS_DONE else {}
    return Features({
        'observation.image': Image(),
        'observation.state': Seq(Value('float32'), length=states),
        **pose,
        'action': Seq(Value('float32'), length=actions),
        **done,
        'action.gated': Seq(Value('float32'), length=actions),
        'episode_index': Value('int64'), 'frame_index': Value('int64'),
        'timestamp': Value('float32'), 'index': Value('int64'),
        'task_index': Value('int64'), 'task': Value('string'), 'scenario': Value('string'),
        'next.done': Value('bool'), 'next.success': Value('bool'),
    })


def write_episode(path: str, ep: Dict[str, object], episode_index: int, task_index: int,
                  scenario: str, reached: bool, image_size: int, index0: int,
                  robot=None) -> int:
    from datasets import Dataset
    from PIL import Image as PILImage

    robot = robot or robot_plugin('mobile')
    n = len(ep['timestamp'])
    done = np.zeros(n, bool)
    done[-1] = True
    optional = {}
    if robot.HAS_POSE:
        optional['observation.pose'] = ep['pose'].tolist()
    if robot.HAS_DONE:
        optional['action.done'] = ep['done'].tolist()
    data = {
        'observation.image': [PILImage.fromarray(img) for img in ep['images']],
        'observation.state': ep['state'].tolist(), **optional,
        'action': ep['action'].tolist(), 'action.gated': ep['action_gated'].tolist(),
        'episode_index': [episode_index] * n, 'frame_index': list(range(n)),
        'timestamp': ep['timestamp'].astype(np.float32).tolist(),
        'index': list(range(index0, index0 + n)), 'task_index': [task_index] * n,
        'task': [ep['instruction']] * n, 'scenario': [scenario] * n,
        'next.done': done.tolist(), 'next.success': (done & reached).tolist(),
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    Dataset.from_dict(data, features=features(image_size, robot)).to_parquet(tmp)
    os.replace(tmp, path)
    return n


def split_episodes(records: Sequence[dict], val_fraction: float, seed: int) -> Dict[str, str]:
    """name -> 'train' | 'val', BY PLACEMENT: both sides of a layout land in the same split."""
    placements = sorted({r['seed'] for r in records})
    rng = stable_rng('split', seed)
    n_val = int(round(val_fraction * len(placements)))
    if val_fraction > 0 and len(placements) >= 2:
        n_val = max(1, n_val)
    val = set(rng.sample(placements, n_val)) if n_val else set()
    return {r['name']: ('val' if r['seed'] in val else 'train') for r in records}


def convert(demos: str, out: str, image_size: int = 64, val_fraction: float = 0.12,
            seed: int = 0, force: bool = False, progress: bool = True,
            robot: str = 'mobile') -> dict:
    """Convert every finished, successful demonstration of `robot` under `demos`; returns
    info.json."""
    from tqdm import tqdm
    from vla_policy_node.policies import Normalizer

    plugin = robot_plugin(robot)
    records = []
    for path in sorted(glob.glob(os.path.join(demos, '*', 'episode.json'))):
        rec = read_json(path)
        rec['dir'] = os.path.dirname(path)
        rec.setdefault('scenario', rec.get('task', ''))   # the arm's episodes name a task
        records.append(rec)
    # In the order the collector records them (noise level, then placement, then scenario), so
    # converting while a collection runs appends episodes and keeps the converted ones valid.
    usable = sorted([r for r in records if plugin.usable(r)],
                    key=lambda r: (r['noise'], r['seed'], r['scenario']))
    skipped = [r['name'] for r in records if r not in usable]
    if not usable:
        raise SystemExit(f'[convert] no successful demonstrations under {demos}')
    splits = split_episodes(usable, val_fraction, seed)
    tasks = list(dict.fromkeys(r['instruction'] for r in usable))   # in order: appendable
    os.makedirs(os.path.join(out, 'meta'), exist_ok=True)
    info_path = os.path.join(out, 'meta', 'info.json')
    if os.path.isfile(info_path) and not force:
        old = read_json(info_path)
        if old.get('image_size') != image_size:
            raise SystemExit(f'[convert] {out} holds {old.get("image_size")} px images; '
                             f'use --force or another --out')
    episodes = []
    index0 = 0
    train_actions, train_states = [], []
    for ep_index, rec in enumerate(tqdm(usable, desc='convert', unit='ep',
                                        disable=not progress, file=sys.stderr)):
        path = os.path.join(out, CHUNKS_DIR, f'episode_{ep_index:06d}.parquet')
        meta_path = path.replace('.parquet', '.json')
        what = {'name': rec['name'], 'task_index': tasks.index(rec['instruction']),
                'index0': index0}
        if force or not (os.path.isfile(path) and os.path.isfile(meta_path)) or any(
                read_json(meta_path).get(k) != v for k, v in what.items()):
            ep = plugin.read_episode(os.path.join(rec['dir'], rec.get('bag', 'bag')),
                                     image_size)
            if ep['instruction'] != rec['instruction']:
                raise ValueError(f'{rec["name"]}: recorded instruction differs from the plan')
            n = write_episode(path, ep, ep_index, tasks.index(rec['instruction']),
                              rec['scenario'], True, image_size, index0, plugin)
            write_json(meta_path, {**what, 'length': n,
                                   'action': ep['action'].tolist(),
                                   'done_frames': int(ep['done'].sum()),
                                   'state': ep['state'].tolist()})
        meta = read_json(meta_path)
        n = meta['length']
        split = splits[rec['name']]
        if split == 'train':
            train_actions.append(np.asarray(meta['action'], np.float32))
            train_states.append(np.asarray(meta['state'], np.float32))
        episodes.append({'episode_index': ep_index, 'name': rec['name'],
                         'scenario': rec['scenario'], 'seed': rec['seed'],
                         'instruction': rec['instruction'], 'length': n,
                         'done_frames': meta['done_frames'], 'split': split,
                         'expert_noise': rec['noise'], 'time': rec['time'],
                         'file': os.path.relpath(path, out)})
        index0 += n
    actions = np.concatenate(train_actions)
    states = np.concatenate(train_states)
    if plugin.MIRROR is not None:
        # Mirrored augmentation negates linear_y and angular_z: make the bounds symmetric.
        mirror = np.asarray(plugin.MIRROR, np.float32)
        norm = Normalizer.fit(plugin.ACTION_SPACE, np.concatenate([actions, actions * mirror]),
                              np.concatenate([states, states * mirror]))
    else:
        norm = Normalizer.fit(plugin.ACTION_SPACE, actions, states,
                              quantile=plugin.NORMALIZER_QUANTILE)
    stats = {'normalizer': norm.to_dict(),
             'action': {'mean': actions.mean(0).tolist(), 'std': actions.std(0).tolist(),
                        'min': actions.min(0).tolist(), 'max': actions.max(0).tolist()},
             'observation.state': {'mean': states.mean(0).tolist(),
                                   'std': states.std(0).tolist()}}
    write_json(os.path.join(out, 'meta', 'stats.json'), stats)
    with open(os.path.join(out, 'meta', 'episodes.jsonl'), 'w', encoding='utf-8') as f:
        for e in episodes:
            f.write(json.dumps(e, ensure_ascii=False) + '\n')
    with open(os.path.join(out, 'meta', 'tasks.jsonl'), 'w', encoding='utf-8') as f:
        for i, t in enumerate(tasks):
            f.write(json.dumps({'task_index': i, 'task': t}, ensure_ascii=False) + '\n')
    info = {'codebase_version': 'v2.0-like', 'robot': robot, 'robot_type': plugin.ROBOT_TYPE,
            'action_space': plugin.ACTION_SPACE, 'fps': FPS,
            'image_size': image_size, 'total_episodes': len(episodes),
            'total_frames': index0, 'total_tasks': len(tasks),
            'splits': {s: [e['episode_index'] for e in episodes if e['split'] == s]
                       for s in ('train', 'val')},
            'skipped_episodes': skipped, 'source': os.path.abspath(demos),
            'split_seed': seed, 'val_fraction': val_fraction,
            'features': {k: str(v) for k, v in features(image_size, plugin).items()},
            'action_names': list(plugin.ACTION_NAMES),
            'state_names': list(plugin.STATE_NAMES)}
    write_json(info_path, info)
    return info


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='vla_convert', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--demos', default='data/demos', help='vla_collect output')
    parser.add_argument('--out', default='data/dataset', help='dataset directory')
    parser.add_argument('--image-size', type=int, default=64,
                        help='stored image size = the policy input size (px)')
    parser.add_argument('--val-fraction', type=float, default=0.12,
                        help='fraction of placements (both sides) held out for validation')
    parser.add_argument('--seed', type=int, default=0, help='split seed')
    parser.add_argument('--force', action='store_true', help='rebuild every episode')
    add_robot_argument(parser, 'whose demonstrations (vla_learning.robots.<robot>)')
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    info = convert(args.demos, args.out, args.image_size, args.val_fraction, args.seed,
                   args.force, robot=args.robot)
    print(f'[convert] {info["total_episodes"]} episodes, {info["total_frames"]} frames '
          f'(train {len(info["splits"]["train"])} / val {len(info["splits"]["val"])} '
          f'episodes), {len(info["skipped_episodes"])} skipped, '
          f'{time.monotonic() - t0:.0f} s -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
