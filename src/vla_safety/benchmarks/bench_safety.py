#!/usr/bin/env python3
"""Benchmark the installed `safety_gate` across processes and print latency figures.

    source scripts/activate.sh
    python src/vla_safety/benchmarks/bench_safety.py            # full run (~2 min)
    python src/vla_safety/benchmarks/bench_safety.py --quick    # smoke run (seconds)

Measured from this process (one clock: time.perf_counter), with the gate in its own process:
  1. e-stop: `estop` true published -> first zero `cmd_vel` received, >= 1000 trials;
  2. command-in -> gated command-out latency, compared with a trivial relay process (so the
     difference is what the gate adds), with publish_on_input on (default) and off (timer
     only: adds up to one tick);
  3. watchdogs: time from the last `cmd_vel_in` (policy goes silent) and from the last
     `heartbeat` to the first zero received.
Run it by hand on an idle machine; tests only smoke-run it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import yaml

GATE_NAME = 'safety_gate'
RELAY = r'''
import rclpy
from geometry_msgs.msg import Twist
from vla_common.qos import COMMAND_QOS
rclpy.init()
node = rclpy.create_node('relay')
pub = node.create_publisher(Twist, 'cmd_vel', COMMAND_QOS)
node.create_subscription(Twist, 'cmd_vel_in', pub.publish, COMMAND_QOS)
print('relay up', flush=True)
rclpy.spin(node)
'''


def percentiles(samples: List[float]) -> Dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds (nearest-rank percentiles)."""
    s = sorted(samples)
    if not s:
        return {}

    def pct(p: float) -> float:
        return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))] * 1e3

    return {'n': len(s), 'p50_ms': pct(50), 'p90_ms': pct(90), 'p99_ms': pct(99),
            'max_ms': s[-1] * 1e3, 'mean_ms': statistics.fmean(s) * 1e3}


def fmt(name: str, stats: Dict[str, float]) -> str:
    if not stats:
        return f'{name:<58} (no samples)'
    return (f'{name:<58} n={stats["n"]:<5d} p50 {stats["p50_ms"]:7.2f}  p90 '
            f'{stats["p90_ms"]:7.2f}  p99 {stats["p99_ms"]:7.2f}  max {stats["max_ms"]:7.2f} ms')


def write_params(directory: str, overrides: Dict[str, Any]) -> str:
    from ament_index_python.packages import get_package_share_directory
    src = os.path.join(get_package_share_directory('vla_safety'), 'config',
                       'safety_gate.param.yaml')
    with open(src, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    params = data['/**']['ros__parameters']
    for key, value in overrides.items():
        node = params
        parts = key.split('.')
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    path = os.path.join(directory, f'bench_{len(os.listdir(directory))}.yaml')
    with open(path, 'w', encoding='utf-8') as f:
        yaml.safe_dump(data, f)
    return path


class Bench:
    """The benchmark's own node: publishers, a cmd_vel probe and the reset client."""

    def __init__(self) -> None:
        import rclpy
        from geometry_msgs.msg import Twist
        from rclpy.executors import SingleThreadedExecutor
        from std_msgs.msg import Bool, Header
        from vla_common.qos import COMMAND_QOS, LATCHED_QOS
        from vla_msgs.srv import Estop

        self.rclpy = rclpy
        self.Twist, self.Bool, self.Header, self.Estop = Twist, Bool, Header, Estop
        self.node = rclpy.create_node('safety_bench')
        n = self.node
        self.cmd_pub = n.create_publisher(Twist, 'cmd_vel_in', COMMAND_QOS)
        self.hb_pub = n.create_publisher(Header, 'heartbeat', COMMAND_QOS)
        self.estop_pub = n.create_publisher(Bool, 'estop', LATCHED_QOS)
        self.reset = n.create_client(Estop, f'{GATE_NAME}/reset_estop')
        self._lock = threading.Lock()
        self._probe: Optional[Callable[[Any, float], bool]] = None
        self._hit = threading.Event()
        self.hit_time = 0.0
        self.last_rx = 0.0
        n.create_subscription(Twist, 'cmd_vel', self._on_out, COMMAND_QOS)
        self.heartbeat = True
        self.policy_rate: Optional[float] = None       # publish cmd_vel_in at this rate
        self.policy_vx = 0.3
        self.last_cmd_sent = 0.0
        self.last_hb_sent = 0.0
        n.create_timer(0.05, self._on_heartbeat_timer)
        n.create_timer(0.05, self._on_policy_timer)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(n)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            self.executor.spin_once(timeout_sec=0.05)

    # callbacks (executor thread)
    def _on_out(self, msg: Any) -> None:
        now = time.perf_counter()
        self.last_rx = now
        with self._lock:
            probe = self._probe
            if probe is not None and probe(msg, now):
                self._probe = None
                self.hit_time = now
                self._hit.set()

    def _on_heartbeat_timer(self) -> None:
        if self.heartbeat:
            self.hb_pub.publish(self.Header(frame_id='bench'))
            self.last_hb_sent = time.perf_counter()

    def _on_policy_timer(self) -> None:
        if self.policy_rate is not None:
            self.send(self.policy_vx)

    # main thread
    def send(self, vx: float) -> float:
        msg = self.Twist()
        msg.linear.x = float(vx)
        t = time.perf_counter()
        self.cmd_pub.publish(msg)
        self.last_cmd_sent = t
        return t

    def arm(self, probe: Callable[[Any, float], bool]) -> None:
        with self._lock:
            self._hit.clear()
            self._probe = probe

    def wait(self, timeout: float = 5.0) -> Optional[float]:
        return self.hit_time if self._hit.wait(timeout) else None

    def wait_moving(self, timeout: float = 10.0) -> None:
        self.arm(lambda m, t: m.linear.x > 0.0)
        self.send(self.policy_vx)
        if self.wait(timeout) is None:
            raise RuntimeError('the gate does not pass commands (is it connected?)')

    def call_reset(self, timeout: float = 5.0) -> bool:
        future = self.reset.call_async(self.Estop.Request(reason='bench'))
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            return False
        return bool(future.result().success)

    def connect(self, gate: bool = True, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.cmd_pub.get_subscription_count() < 1 or (
                gate and not self.reset.service_is_ready()):
            if time.monotonic() > deadline:
                raise RuntimeError('gate not discovered')
            time.sleep(0.05)
        time.sleep(0.3)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


def start_process(args: List[str], name: str, logdir: str, ready: str) -> Any:
    from vla_testing.ros import NodeProcess
    proc = NodeProcess(args, name, logdir)
    proc.wait_for_output(ready, timeout=60.0)
    return proc


def gate_args(params: str) -> List[str]:
    from ament_index_python.packages import get_package_prefix
    exe = os.path.join(get_package_prefix('vla_safety'), 'lib', 'vla_safety', 'safety_gate')
    return [exe, '--ros-args', '--params-file', params]


def bench_estop(b: Bench, trials: int) -> List[float]:
    """estop true -> first zero cmd_vel; reset between trials (reset_quiet_time 0)."""
    out: List[float] = []
    for _ in range(trials):
        b.wait_moving()
        b.arm(lambda m, t: m.linear.x == 0.0 and m.linear.y == 0.0 and m.angular.z == 0.0)
        t0 = time.perf_counter()
        b.estop_pub.publish(b.Bool(data=True))
        t1 = b.wait()
        if t1 is None:
            raise RuntimeError('no zero after e-stop')
        out.append(t1 - t0)
        b.send(0.0)
        for _ in range(50):
            if b.call_reset():
                break
            time.sleep(0.01)
        else:
            raise RuntimeError('reset refused repeatedly')
    # The topic is latched: leave `false` behind, or the next gate started would begin in
    # e-stop (as it should).
    b.estop_pub.publish(b.Bool(data=False))
    return out


def bench_passthrough(b: Bench, samples: int) -> List[float]:
    """cmd_vel_in -> cmd_vel carrying the same (unique) value."""
    out: List[float] = []
    b.wait_moving()
    base = 0.2
    for _ in range(25):                        # settle on the base value (ramp done)
        b.send(base)
        time.sleep(0.02)
    for i in range(samples):
        value = base + (i % 2000) * 1e-5          # tiny steps: never ramp-limited
        b.arm(lambda m, t, v=value: abs(m.linear.x - v) < 1e-12)
        t0 = b.send(value)
        t1 = b.wait()
        if t1 is None:
            raise RuntimeError(f'value {value} never came out')
        out.append(t1 - t0)
        time.sleep(0.002)
    return out


def bench_watchdog(b: Bench, trials: int, heartbeat: bool) -> List[float]:
    """Policy streams at 20 Hz; then commands (or only the heartbeat) stop."""
    out: List[float] = []
    for _ in range(trials):
        b.heartbeat = True
        b.policy_rate = 20.0
        time.sleep(0.15)
        b.wait_moving()
        time.sleep(0.1)
        b.arm(lambda m, t: m.linear.x == 0.0)
        if heartbeat:
            b.heartbeat = False
            last = b.last_hb_sent
        else:
            b.policy_rate = None
            last = b.last_cmd_sent
        t1 = b.wait(5.0)
        if t1 is None:
            raise RuntimeError('watchdog never stopped the base')
        last = b.last_hb_sent if heartbeat else b.last_cmd_sent
        out.append(t1 - last)
        b.policy_rate = None
        b.heartbeat = True
        time.sleep(0.3)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--trials', type=int, default=1000, help='e-stop trials')
    parser.add_argument('--samples', type=int, default=1000, help='pass-through samples')
    parser.add_argument('--watchdog-trials', type=int, default=100)
    parser.add_argument('--heartbeat-trials', type=int, default=30)
    parser.add_argument('--quick', action='store_true', help='tiny counts (smoke test)')
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.samples, args.watchdog_trials, args.heartbeat_trials = 5, 20, 2, 1

    from vla_testing.ros import isolate_ros_environment, pick_domain_id
    isolate_ros_environment(int(os.environ.get('VLA_BENCH_DOMAIN_ID', 0)) or pick_domain_id())
    import rclpy
    rclpy.init()
    results: Dict[str, Dict[str, float]] = {}
    procs: List[Any] = []
    logdir = tempfile.mkdtemp(prefix='bench_safety_')
    # No scan/odom in the bench: the measured path is the gate itself, not sensor plumbing.
    common = {'require_scan': False, 'require_odom': False, 'geofence.enabled': False,
              'reset_quiet_time': 0.0}
    bench = Bench()
    try:
        print(f'# safety_gate benchmark: {os.cpu_count()} CPUs, load average '
              f'{os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}, '
              f'RMW {os.environ.get("RMW_IMPLEMENTATION", "default")}', flush=True)
        relay = start_process([sys.executable, '-u', '-c', RELAY], 'relay', logdir, 'relay up')
        procs.append(relay)
        bench.connect(gate=False)
        results['relay: cmd_vel_in -> cmd_vel (baseline hop)'] = percentiles(
            bench_passthrough(bench, args.samples))
        relay.stop()
        procs.remove(relay)
        time.sleep(0.5)

        gate = start_process(gate_args(write_params(logdir, common)), 'gate', logdir,
                             'safety gate up')
        procs.append(gate)
        bench.connect()
        results['gate: cmd_vel_in -> cmd_vel (publish_on_input)'] = percentiles(
            bench_passthrough(bench, args.samples))
        results['gate: estop topic -> zero cmd_vel received'] = percentiles(
            bench_estop(bench, args.trials))
        results['gate: command watchdog, last cmd_vel_in -> zero'] = percentiles(
            bench_watchdog(bench, args.watchdog_trials, heartbeat=False))
        if args.heartbeat_trials:
            results['gate: heartbeat lock, last heartbeat -> zero'] = percentiles(
                bench_watchdog(bench, args.heartbeat_trials, heartbeat=True))
        gate.stop()
        procs.remove(gate)
        time.sleep(0.5)

        timer_only = dict(common, publish_on_input=False)
        gate = start_process(gate_args(write_params(logdir, timer_only)), 'gate_timer', logdir,
                             'safety gate up')
        procs.append(gate)
        bench.connect()
        results['gate: cmd_vel_in -> cmd_vel (timer only, 50 Hz)'] = percentiles(
            bench_passthrough(bench, max(10, args.samples // 4)))
    finally:
        for proc in procs:
            proc.stop()
        bench.close()
        rclpy.try_shutdown()
    relay_p50 = results['relay: cmd_vel_in -> cmd_vel (baseline hop)'].get('p50_ms', 0.0)
    relay_p99 = results['relay: cmd_vel_in -> cmd_vel (baseline hop)'].get('p99_ms', 0.0)
    for name, stats in results.items():
        print(fmt(name, stats))
    gate_stats = results['gate: cmd_vel_in -> cmd_vel (publish_on_input)']
    print(f'{"added by the gate over a plain relay (publish_on_input)":<58} '
          f'p50 {gate_stats["p50_ms"] - relay_p50:+7.2f}  p99 '
          f'{gate_stats["p99_ms"] - relay_p99:+7.2f} ms')
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
