"""Soak: back-to-back episodes through the real mobile stack, memory and latency over time.

The stack is the demo's (`mobile_stack(sim='mujoco')`: MuJoCo sim, safety gate, policy with
the shipped model, instruction node; each its own process over DDS, sim time). Episodes cycle
through the 8 scenarios with new seeds, each started with its Korean instruction, for
`--minutes` (default 30). Sampled all along:

- RSS of every node process (/proc/<pid>/status VmRSS) every `--sample` s;
- the policy's inference latency (one sample per inference, from `policy_node/status`);
- the gate's pass-through latency (an observer's arrival of each `cmd_vel_in` to the first
  `cmd_vel` after it; the gate publishes on input) and the heartbeat gaps;
- every `safety_gate/state` with HEARTBEAT_LOST (a missed heartbeat) and every episode outcome.

Bounds checked (printed): RSS growth after the warm-up < 5 % per node (median of the last
window vs the first window after warm-up), latency p99 drift < 20 % (last third vs first
third after warm-up), no missed heartbeat (no gap > heartbeat_timeout while running, no
HEARTBEAT_LOST). `--plot` writes the figure of docs/reliability.md, `--json` all samples.

    python src/vla_bringup/benchmarks/soak.py [--minutes 30] [--warmup 5] [--json s.json]
        [--plot docs/reliability_soak.png]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

HEARTBEAT_LOST = 1 << 6


def rss_kib(pid: int) -> Optional[int]:
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def p99(values: Sequence[float]) -> float:
    return float(np.percentile(values, 99)) if len(values) else float('nan')


def analyse(samples: Dict, warmup: float, heartbeat_timeout: float) -> Dict:
    """The bounds from the recorded samples (times in s since the start)."""
    out: Dict = {'rss_growth': {}, 'latency_drift': {}}
    end = samples['duration']
    window = max(60.0, (end - warmup) / 6.0)
    for name, series in samples['rss'].items():
        t = np.array([s[0] for s in series])
        v = np.array([s[1] for s in series], dtype=float)
        first = v[(t >= warmup) & (t < warmup + window)]
        last = v[t >= end - window]
        if len(first) and len(last):
            out['rss_growth'][name] = float(np.median(last) / np.median(first) - 1.0)
    third = (end - warmup) / 3.0
    for key in ('inference_ms', 'gate_ms'):
        series = samples[key]
        a = [v for t, v in series if warmup <= t < warmup + third]
        b = [v for t, v in series if t >= end - third]
        out['latency_drift'][key] = {
            'p99_first': p99(a), 'p99_last': p99(b), 'n_first': len(a), 'n_last': len(b),
            'drift': (p99(b) / p99(a) - 1.0) if len(a) and len(b) else float('nan')}
    gaps = samples['heartbeat_gaps']
    out['heartbeat_gap_max'] = max(gaps) if gaps else float('nan')
    out['missed_heartbeats'] = sum(1 for g in gaps if g > heartbeat_timeout)
    out['heartbeat_lost_states'] = samples['heartbeat_lost']
    out['ok'] = (all(g < 0.05 for g in out['rss_growth'].values())
                 and all(d['drift'] < 0.20 for d in out['latency_drift'].values())
                 and out['missed_heartbeats'] == 0 and out['heartbeat_lost_states'] == 0)
    return out


def plot(samples: Dict, result: Dict, path: str, warmup: float) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    for name, series in samples['rss'].items():
        t = np.array([s[0] for s in series]) / 60.0
        v = np.array([s[1] for s in series]) / 1024.0
        axes[0].plot(t, v, label=f"{name} ({result['rss_growth'].get(name, 0) * 100:+.1f} %)")
    axes[0].set_ylabel('RSS (MiB)')
    axes[0].legend(fontsize=8, loc='center right')
    for ax, key, label in ((axes[1], 'inference_ms', 'policy inference (ms)'),
                           (axes[2], 'gate_ms', 'cmd_vel_in -> cmd_vel (ms)')):
        series = samples[key]
        if not series:
            continue
        t = np.array([s[0] for s in series])
        v = np.array([s[1] for s in series])
        edges = np.arange(0.0, samples['duration'] + 60.0, 60.0)
        mids, p50, p99s = [], [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            w = v[(t >= lo) & (t < hi)]
            if len(w):
                mids.append((lo + hi) / 120.0)
                p50.append(np.percentile(w, 50))
                p99s.append(np.percentile(w, 99))
        ax.plot(mids, p50, label='p50 per minute')
        ax.plot(mids, p99s, label='p99 per minute')
        drift = result['latency_drift'][key]['drift']
        ax.set_ylabel(label)
        ax.set_title(f'p99 drift {drift * 100:+.1f} %', fontsize=9)
        ax.legend(fontsize=8)
    for ax in axes:
        ax.axvspan(0, warmup / 60.0, color='0.9')
    axes[2].set_xlabel('minutes (grey: warm-up)')
    fig.suptitle(f"soak: {samples['episodes']} episodes, "
                 f"{samples['reached']} reached the cup")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv=None) -> int:
    from geometry_msgs.msg import Twist
    from std_msgs.msg import Header
    from vla_bringup.session import EpisodeSession
    from vla_bringup.stacks import mobile_stack
    from vla_common.qos import COMMAND_QOS, LATCHED_QOS, RELIABLE_QOS
    from vla_common.scenarios import scenario, SCENARIOS
    from vla_msgs.msg import PolicyStatus, SafetyState

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--minutes', type=float, default=30.0)
    parser.add_argument('--warmup', type=float, default=5.0, help='minutes')
    parser.add_argument('--sample', type=float, default=5.0, help='s between RSS samples')
    parser.add_argument('--json')
    parser.add_argument('--plot')
    args = parser.parse_args(argv)
    os.environ.setdefault('ROS_DOMAIN_ID', str(20 + os.getpid() % 40))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    tmp = tempfile.mkdtemp(prefix='soak_')
    params = os.path.join(tmp, 'params.yaml')
    with open(params, 'w') as f:
        f.write('instruction_node:\n  ros__parameters:\n    voice_enabled: false\n')
    stack = mobile_stack(sim='mujoco', params_file=params)
    logs: List[str] = []
    session = EpisodeSession(stack, log=lambda n, line: logs.append(f'[{n}] {line}'))
    lock = threading.Lock()
    t0 = time.monotonic()
    samples: Dict = {'rss': {}, 'inference_ms': [], 'gate_ms': [], 'heartbeat_gaps': [],
                     'heartbeat_lost': 0, 'episodes': 0, 'reached': 0, 'outcomes': []}
    state = {'last_in': None, 'last_hb': None, 'count': None, 'lost': False}

    def now() -> float:
        return time.monotonic() - t0

    def on_in(_m: Twist) -> None:
        with lock:
            state['last_in'] = time.monotonic()

    def on_out(_m: Twist) -> None:
        t = time.monotonic()
        with lock:
            if state['last_in'] is not None:
                samples['gate_ms'].append((t - t0, (t - state['last_in']) * 1000.0))
                state['last_in'] = None

    def on_hb(_m: Header) -> None:
        t = time.monotonic()
        with lock:
            if state['last_hb'] is not None:
                samples['heartbeat_gaps'].append(t - state['last_hb'])
            state['last_hb'] = t

    def on_status(m: PolicyStatus) -> None:
        with lock:
            if state['count'] is not None and m.inference_count > state['count']:
                samples['inference_ms'].append((now(), float(m.latency_last_ms)))
            state['count'] = int(m.inference_count)

    def on_safety(m: SafetyState) -> None:
        lost = bool(m.reasons & HEARTBEAT_LOST)
        with lock:
            if lost and not state['lost']:
                samples['heartbeat_lost'] += 1
            state['lost'] = lost

    n = session.node
    n.create_subscription(Twist, 'cmd_vel_in', on_in, COMMAND_QOS)
    n.create_subscription(Twist, 'cmd_vel', on_out, COMMAND_QOS)
    n.create_subscription(Header, 'heartbeat', on_hb, COMMAND_QOS)
    n.create_subscription(PolicyStatus, 'policy_node/status', on_status, RELIABLE_QOS)
    n.create_subscription(SafetyState, 'safety_gate/state', on_safety, LATCHED_QOS)
    stop = threading.Event()

    def sampler() -> None:
        while not stop.wait(args.sample):
            for h in session.runner.handles:
                kib = rss_kib(h.proc.pid)
                if kib is not None:
                    samples['rss'].setdefault(h.name, []).append((now(), kib))

    loads: List[float] = []
    try:
        session.start(ready_timeout=300)
        t0 = time.monotonic()
        with lock:
            samples['heartbeat_gaps'].clear()
            samples['heartbeat_lost'] = 0
            state['last_hb'] = None
        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        k = 0
        while now() < args.minutes * 60.0:
            name = SCENARIOS[k % len(SCENARIOS)]
            report = session.run_episode(name, 1000 + k, scenario(name).instruction_ko,
                                         timeout=120.0)
            samples['episodes'] += 1
            samples['reached'] += report.outcome == 'reached'
            samples['outcomes'].append((now(), name, report.outcome))
            loads.append(os.getloadavg()[0])
            print(f'{now() / 60:5.1f} min  {name:16s} {report.outcome:10s} '
                  f'{report.wall_time:5.1f} s wall', flush=True)
            k += 1
        stop.set()
    finally:
        stop.set()
        session.close()
    samples['duration'] = now()
    hb_timeout = 0.5
    result = analyse(samples, args.warmup * 60.0, hb_timeout)
    print(f"\nsoak: {samples['duration'] / 60:.1f} min, {samples['episodes']} episodes, "
          f"{samples['reached']} reached; load average {min(loads):.1f}-{max(loads):.1f} on "
          f'{os.cpu_count()} cores')
    for name, g in sorted(result['rss_growth'].items()):
        print(f'  RSS growth after warm-up {name:18s} {g * 100:+6.2f} %  (bound 5 %)')
    for key, d in result['latency_drift'].items():
        print(f"  {key:13s} p99 first third {d['p99_first']:7.1f} ms, last third "
              f"{d['p99_last']:7.1f} ms: drift {d['drift'] * 100:+6.1f} %  (bound 20 %)")
    print(f"  heartbeat: max gap {result['heartbeat_gap_max'] * 1000:.0f} ms, "
          f"{result['missed_heartbeats']} gaps > {hb_timeout * 1000:.0f} ms, "
          f"{result['heartbeat_lost_states']} HEARTBEAT_LOST states")
    print('  within bounds' if result['ok'] else '  OUT OF BOUNDS')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(samples=samples, result=result, loads=loads), f)
    if args.plot:
        plot(samples, result, args.plot, args.warmup * 60.0)
    return 0 if result['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
