"""The mobile stack split over two hosts (network namespaces), and fault trials on the link.

Robot host: `mujoco_sim`, `safety_gate`, `instruction_node` and a robot-side observer/operator
(`vla_testing.fault_observer --side robot`). Policy host: `policy_node` and a policy-side
observer. Both halves are started by the bringup runner from the same `StackSpec` as
`run_stack` (so the shipped Fast DDS profile is applied the same way); they discover each
other over the veth, by UDP: each host has its own network namespace, and the traffic the
link counters see proves it crosses the link.

`run_trial(kind)` runs one fault during a moving episode and returns the `TrialRecord` for
`fault_trials.analyse`. Used by `src/vla_bringup/test/test_two_hosts.py` (a few trials) and
`src/vla_bringup/benchmarks/bench_faults.py` (>= 20 per fault).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

from vla_testing.fault_trials import TrialRecord
from vla_testing.netns import Host, TwoHosts

FAULTS = ('loss5', 'loss20', 'squeeze', 'link_down', 'link_down_estop', 'policy_kill')
#: Faults that cut the policy's commands and heartbeats off the gate (it must stop).
CUTS = ('link_down', 'link_down_estop', 'policy_kill')
INSTRUCTION = '박스를 왼쪽으로 돌아서 컵까지 가세요'
#: camera frames (10 Hz of sim time) of a new episode before the operator instructs.
FRAMES_BEFORE_INSTRUCTION = 3
SCENARIO = '1box_vert_left'


class Observer:
    """A fault_observer process on one host; its JSON lines collected in memory."""

    def __init__(self, host: Host, side: str, env: Dict[str, str], log_path: str) -> None:
        self.side = side
        self.records: List[Dict] = []
        self._lock = threading.Lock()
        self._log = open(log_path, 'w')  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            host.prefix + [sys.executable, '-u', '-m', 'vla_testing.fault_observer',
                           '--side', side],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env,
            text=True, start_new_session=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self.records.append(rec)

    def since(self, t: float, kind: Optional[str] = None) -> List[Dict]:
        with self._lock:
            return [r for r in self.records if r['t'] >= t and (kind is None or r['k'] == kind)]

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + '\n')
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send('quit')
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired, BrokenPipeError):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


class TwoHostStack:
    """Start, drive and fault the split stack."""

    def __init__(self, hosts: TwoHosts, stack, log_dir: str,
                 env: Optional[Dict[str, str]] = None,
                 log: Optional[Callable[[str, str], None]] = None) -> None:
        from vla_bringup.runner import StackRunner
        from vla_bringup.stacks import StackSpec

        self.hosts = hosts
        self.log_dir = log_dir
        self.env = dict(os.environ if env is None else env)
        # Each host has its own network: discovery must reach the other one (not localhost).
        self.env.pop('ROS_AUTOMATIC_DISCOVERY_RANGE', None)
        self.env.pop('ROS_LOCALHOST_ONLY', None)
        self.env.setdefault('PYTHONUNBUFFERED', '1')
        self.lines: List[str] = []
        self._log = log or (lambda name, line: self.lines.append(f'[{name}] {line}'))
        robot_nodes = tuple(n for n in stack.nodes if n.name != 'policy_node')
        policy_nodes = tuple(n for n in stack.nodes if n.name == 'policy_node')
        self.robot = StackRunner(StackSpec('robot', robot_nodes), env=self.env, log=self._log,
                                 prefix=hosts.robot.prefix)
        self.policy = StackRunner(StackSpec('policy', policy_nodes), env=self.env,
                                  log=self._log, prefix=hosts.policy.prefix)
        # The runner applies the shipped transport profile; the observers use the same env.
        self.env = dict(self.robot.env)
        self.robot_obs: Optional[Observer] = None
        self.policy_obs: Optional[Observer] = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 240.0) -> None:
        self.robot.start()
        self.policy.start()
        self.robot_obs = Observer(self.hosts.robot, 'robot', self.env,
                                  os.path.join(self.log_dir, 'observer_robot.log'))
        self.policy_obs = Observer(self.hosts.policy, 'policy', self.env,
                                   os.path.join(self.log_dir, 'observer_policy.log'))
        # Up when the policy's heartbeats cross the link and the gate reports its state.
        self.wait(lambda: self.robot_obs.since(0, 'rx_hb') and self.robot_obs.since(0, 'state'),
                  timeout, 'policy heartbeats on the robot host')

    def stop(self) -> None:
        for obs in (self.robot_obs, self.policy_obs):
            if obs is not None:
                obs.stop()
        self.policy.stop()
        self.robot.stop()

    def check(self) -> Optional[str]:
        return self.robot.check() or self.policy.check()

    def wait(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            why = self.check()
            if why:
                raise RuntimeError(f'{why} while waiting for {what}\n'
                                   + '\n'.join(self.lines[-80:]))
            if predicate():
                return
            time.sleep(0.02)
        raise TimeoutError(f'timed out after {timeout:.0f} s waiting for {what}\n'
                           + '\n'.join(self.lines[-80:]))

    # --- operator ----------------------------------------------------------------------------
    def request(self, line: str, timeout: float = 60.0) -> Dict:
        """Send an operator command to the robot-side observer and return its reply."""
        assert self.robot_obs is not None
        t = time.monotonic()
        self.robot_obs.send(line)
        what = line.split(' ', 1)[0]
        self.wait(lambda: [r for r in self.robot_obs.since(t, 'reply') if r['what'] == what],
                  timeout, f'the reply to {what!r}')
        return [r for r in self.robot_obs.since(t, 'reply') if r['what'] == what][0]

    def moving_since(self, t: float) -> bool:
        assert self.robot_obs is not None
        return any(any(x != 0.0 for x in r['v']) for r in self.robot_obs.since(t, 'cmd'))

    def moving_now(self) -> bool:
        """The gate's latest output (as the robot host saw it) commands motion."""
        assert self.robot_obs is not None
        cmds = self.robot_obs.since(time.monotonic() - 1.0, 'cmd')
        return bool(cmds) and any(x != 0.0 for x in cmds[-1]['v'])

    def start_episode(self, seed: int) -> float:
        reply = self.request(f'start {SCENARIO} {seed}')
        if not reply['ok']:
            raise RuntimeError(f'start_episode refused: {reply["message"]}')
        t = time.monotonic()
        # As an operator looking at the robot would: instruct once the new episode's scene is
        # on camera (the policy would otherwise see the last episode's frame, e.g. the cup up
        # close, with the new instruction). The camera runs at 10 Hz of sim time.
        self.wait(lambda: self._sim_elapsed_since(t) >= FRAMES_BEFORE_INSTRUCTION / 10.0, 60.0,
                  'the new episode on camera')
        self.request(f'text {INSTRUCTION}')
        return t

    def _sim_elapsed_since(self, t: float) -> float:
        assert self.robot_obs is not None
        sims = [r['sim'] for r in self.robot_obs.since(t, 'clock')]
        return sims[-1] - sims[0] if sims else 0.0

    def result_since(self, t: float) -> Optional[Dict]:
        assert self.robot_obs is not None
        ends = [r for r in self.robot_obs.since(t, 'result') if r['outcome'] != 0]
        return ends[-1] if ends else None

    def kill_policy(self) -> None:
        handle = self.policy.handles[0]
        handle.signal(signal.SIGKILL)
        handle.proc.wait(timeout=10)

    def restart_policy(self) -> None:
        from vla_bringup.runner import NodeProcessHandle

        old = self.policy.handles[0]
        self.policy.handles[0] = NodeProcessHandle(old.spec, old.cmd, self.policy.env,
                                                   self._log)

    # --- one trial -----------------------------------------------------------------------------
    def run_trial(self, kind: str, seed: int, rng: random.Random,
                  episode_timeout: float = 90.0, start_timeout: float = 120.0) -> TrialRecord:
        """One episode with `kind` injected once the robot moves; back to a clean link after."""
        assert self.robot_obs is not None and self.policy_obs is not None
        if kind not in FAULTS:
            raise ValueError(f'unknown fault {kind!r}; known: {FAULTS}')
        hosts = self.hosts
        t0 = time.monotonic()
        loss = {'loss5': 5, 'loss20': 20}.get(kind, 0)
        if loss:
            hosts.set_loss(loss)
        n_lines = len(self.lines)
        t_start = self.start_episode(seed)
        try:
            self.wait(lambda: self.moving_since(t_start), start_timeout, 'the robot moving')
        except TimeoutError:
            # Under loss the instruction itself can arrive too late to be taken (it is
            # refused as stale after instruction_max_age): an outcome of the trial, recorded
            # (as is any other episode that never moved, with what the stack logged).
            hosts.set_loss(0)
            t_end = time.monotonic()
            return TrialRecord(kind, t_start, t_end,
                               [r for r in self.robot_obs.since(t0) if r['t'] <= t_end],
                               [r for r in self.policy_obs.since(t0) if r['t'] <= t_end],
                               expect_stop=False,
                               not_started=self._why_not_started(n_lines, t_start))
        time.sleep(rng.uniform(0.3, 1.5))      # inject at a random phase of the motion
        if not loss:
            # ... while the robot moves: on a loaded machine a starved policy can let the
            # gate's command timeout hold the robot for a moment, and a fault injected then
            # would test nothing (the trial's precondition, `moving_at_fault`).
            self.wait(self.moving_now, start_timeout, 'the robot moving at the fault')
        t_estop = t_reset = t_lift = None
        if loss:
            t_fault = t_start
            self.wait(lambda: self.result_since(t_start), episode_timeout, 'the episode end')
            t_clear = time.monotonic()
            hosts.set_loss(0)
        elif kind == 'squeeze':
            hosts.squeeze('1mbit')
            t_fault = time.monotonic()
            time.sleep(5.0)
            hosts.unsqueeze()
            t_clear = time.monotonic()
        elif kind in ('link_down', 'link_down_estop'):
            hosts.link(False)
            t_fault = time.monotonic()
            if kind == 'link_down_estop':
                time.sleep(1.0)
                reply = self.request('estop')
                t_estop = reply['t']
                time.sleep(2.0)
            else:
                time.sleep(3.0)
            t_lift = time.monotonic()
            hosts.link(True)
            t_clear = time.monotonic()
            if kind == 'link_down_estop':
                time.sleep(1.0)
                t_reset = self._reset_until_accepted()
                # The e-stop cancelled the instruction (a reset never restarts motion by
                # itself, issue 14): the operator gives it again.
                self.request(f'text {INSTRUCTION}')
        else:   # policy_kill
            self.kill_policy()
            t_fault = time.monotonic()
            time.sleep(1.0)
            self.restart_policy()
            t_clear = time.monotonic()
            # The restarted policy needs a fresh instruction from the operator (issue 14);
            # give it once its heartbeats cross the link again.
            self.wait(lambda: self.robot_obs.since(t_clear, 'rx_hb'), 180.0,
                      'the restarted policy\'s heartbeat')
            self.request(f'text {INSTRUCTION}')
        # Let the episode go on after the fault until motion is back (or it ended), then
        # record two more seconds.
        if not loss:
            t_back = t_reset or t_clear
            try:
                self.wait(lambda: self.result_since(t_start) or self.moving_since(t_back),
                          episode_timeout, 'motion after the fault')
            except TimeoutError:
                pass      # recorded as "did not resume"; the caller judges it
            time.sleep(2.0)
        t_end = time.monotonic()
        # Loss and the squeeze do not cut the commands and heartbeats (they are small and get
        # through): the gate has nothing to stop for. Whether the policy pauses on starved
        # images depends on how many frames still get through; it is reported, not required.
        record = TrialRecord(kind, t_fault, t_clear,
                             [r for r in self.robot_obs.since(t0) if r['t'] <= t_end],
                             [r for r in self.policy_obs.since(t0) if r['t'] <= t_end],
                             t_estop, t_reset, expect_stop=kind in CUTS, t_lift=t_lift)
        return record

    def _why_not_started(self, n_lines: int, t_start: float) -> str:
        """What the stack logged about an episode that never moved (since line `n_lines`)."""
        said = [line for line in self.lines[n_lines:] if 'refused' in line
                or 'TIMED_OUT' in line]
        return (said[-1].strip() if said else 'no motion') + \
            f' ({time.monotonic() - t_start:.0f} s after the instruction)'

    def _reset_until_accepted(self, attempts: int = 40) -> float:
        """The operator resets the e-stop (refused while the policy still commands motion)."""
        for _ in range(attempts):
            reply = self.request('reset')
            if reply['ok']:
                return reply['t']
            time.sleep(0.25)
        raise RuntimeError('the e-stop reset was refused every time')

    def finish_episode(self, t_start: float, timeout: float = 120.0) -> Optional[Dict]:
        try:
            self.wait(lambda: self.result_since(t_start), timeout, 'the episode end')
        except TimeoutError:
            return None
        return self.result_since(t_start)
