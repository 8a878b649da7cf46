"""Record demonstrations of any robot through its stack: one rosbag2 (mcap) per episode.

The robot module (`vla_learning.robots.<name>`) says what is specific: `collect_stack`,
`session`, `run_demonstration`, `record_of`, `COLLECT_TOPICS`, `REQUIRED_TOPICS`; plans have
`name` and `noise`. Resumable: an episode whose `episode.json` says the expert succeeded is
skipped; a half-recorded or unsuccessful one is recorded again (the expert does not fail on
its own: a failed demonstration was disturbed, e.g. a starved process let a watchdog stop the
robot). Deterministic given the plans and the seed.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Dict, List, Mapping, Sequence

from vla_learning.common import read_json, write_json


class EpisodeBagRecorder:
    """Subscriptions created once per session, a new rosbag2 writer per episode.

    Creating and closing a recorder per episode destroys subscriptions while the session's
    executor thread waits on them, which can kill that thread (rclpy InvalidHandle) and with
    it every later service response.
    """

    def __init__(self, node, topics: Dict[str, str]) -> None:
        import threading

        from vla_bringup.recorder import TopicRecorder

        self._lock = threading.Lock()
        self.writer = None
        self.counts: Dict[str, int] = {}
        self.recorder = TopicRecorder(node, topics, self._write)

    def _write(self, msg) -> None:
        with self._lock:
            if self.writer is not None:
                self.writer.write(msg.topic, msg.msgtype, msg.timestamp, msg.data)
                self.counts[msg.topic] = self.counts.get(msg.topic, 0) + 1

    def open(self, path: str) -> None:
        from vla_bringup.bags import BagWriter

        with self._lock:
            self.writer = BagWriter(path, 'mcap')
            self.counts = {}

    def close_episode(self) -> Dict[str, int]:
        with self._lock:
            writer, self.writer = self.writer, None
            counts = dict(self.counts)
        if writer is not None:
            writer.close()
        return counts


def episode_done(out: str, plan) -> bool:
    """Recorded, and the expert succeeded."""
    path = os.path.join(out, plan.name, 'episode.json')
    return os.path.isfile(path) and bool(read_json(path).get('success'))


def run_collection(robot, out: str, plans: Sequence, randomization: Mapping[str, object],
                   seed: int = 0, timeout: float = 120.0, retries: int = 5,
                   quiet: bool = True, progress: bool = True) -> List[dict]:
    """Record every planned episode not recorded yet; returns the episode.json records."""
    from tqdm import tqdm
    from vla_bringup.session import StackFailure

    os.makedirs(out, exist_ok=True)
    todo = [p for p in plans if not episode_done(out, p)]
    bar = tqdm(total=len(plans), initial=len(plans) - len(todo), desc='collect',
               unit='ep', disable=not progress, file=sys.stderr)
    log = (lambda _n, _l: None) if quiet else None
    # One stack per noise level (the expert's noise is a node parameter).
    for noise in sorted({p.noise for p in todo}):
        pending = [p for p in todo if p.noise == noise]
        for _ in range(retries + 1):
            if not pending:
                break
            unsuccessful: List = []
            try:
                stack = robot.collect_stack(randomization, noise, seed)
                with robot.session(stack, log=log) as session:
                    recorder = EpisodeBagRecorder(session.node, robot.COLLECT_TOPICS)
                    session.start()
                    # Discovery of the expert can outlast a short lockstep episode under load.
                    session.wait_for_publishers(robot.COLLECT_TOPICS)
                    for plan in pending:
                        ep_dir = os.path.join(out, plan.name)
                        if os.path.isdir(ep_dir):
                            shutil.rmtree(ep_dir)   # a half-recorded episode: redo it
                        os.makedirs(ep_dir)
                        recorder.open(os.path.join(ep_dir, 'bag'))
                        try:
                            report = robot.run_demonstration(session, plan, timeout)
                            time.sleep(0.2)          # the last messages of the episode
                        except StackFailure as exc:
                            bar.write(f'[collect] {plan.name}: stack failure: {exc}')
                            raise
                        finally:
                            counts = recorder.close_episode()
                        silent = [t for t in robot.REQUIRED_TOPICS if not counts.get(t)]
                        if silent:
                            bar.write(f'[collect] {plan.name}: recorded nothing on '
                                      f'{", ".join(silent)}: restarting the stack')
                            raise StackFailure(f'{plan.name}: incomplete recording')
                        record = {**robot.record_of(plan, report),
                                  'randomization': dict(randomization), 'collect_seed': seed,
                                  'bag': 'bag', 'messages': counts}
                        write_json(os.path.join(ep_dir, 'episode.json'), record)
                        bar.set_postfix_str(f'{plan.name} {report.outcome} '
                                            f'{report.time:.1f}s sim/{report.wall_time:.1f}s')
                        if record.get('success'):
                            bar.update(1)
                        else:
                            unsuccessful.append(plan)
                            bar.write(f'[collect] {plan.name}: {report.outcome}: recorded '
                                      'again later')
            except StackFailure as exc:
                # Whatever is not recorded yet, also when the stack failed before the first
                # episode (a node that did not start).
                pending = [p for p in pending if not episode_done(out, p)]
                bar.write(f'[collect] stack failure ({exc}): {len(pending)} episodes to go')
                time.sleep(2.0)
                continue
            pending = unsuccessful
        if pending:
            bar.write(f'[collect] gave up on {len(pending)} episodes (noise {noise})')
    bar.close()
    return [read_json(os.path.join(out, p.name, 'episode.json')) for p in plans
            if episode_done(out, p)]


__all__ = ['EpisodeBagRecorder', 'episode_done', 'run_collection']
