#!/usr/bin/env python3
"""Timer rate and delivery gaps of rclpy executors when a timer feeds an in-process subscriber.

Why this exists: with rclpy 9.1 (Kilted wheels) a `MultiThreadedExecutor` spinning a node
whose 50 Hz timer publishes to a subscription of another node in the same executor fell to
1-3 Hz for seconds at a time, which made in-process node tests flaky. The test harnesses
(`vla_testing.ros.RosTestContext`, `vla_bringup` session and replay) therefore spin a
`SingleThreadedExecutor`. Run this on a new rclpy to see whether the reason still holds:

    source scripts/activate.sh
    python src/vla_testing/benchmarks/bench_executors.py --seconds 3 --trials 3

It prints, per executor, the timer rate against the requested rate and the p50/p99/max gap
between deliveries, plus the ratio of the multi-threaded p99 gap to the single-threaded one.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Dict, List


def run_trial(kind: str, rate: float, seconds: float, qos_name: str) -> Dict[str, float]:
    import rclpy
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
    from sensor_msgs.msg import JointState
    from vla_common.qos import RELIABLE_QOS, SENSOR_QOS

    qos = SENSOR_QOS if qos_name == 'best_effort' else RELIABLE_QOS
    context = rclpy.Context()
    rclpy.init(context=context)
    executor = (MultiThreadedExecutor(num_threads=2, context=context) if kind == 'multi'
                else SingleThreadedExecutor(context=context))
    talker = rclpy.create_node('bench_talker', context=context)
    listener = rclpy.create_node('bench_listener', context=context)
    executor.add_node(talker)
    executor.add_node(listener)
    ticks: List[float] = []
    received: List[float] = []
    pub = talker.create_publisher(JointState, 'bench_executor', qos)

    def tick() -> None:
        ticks.append(time.monotonic())
        pub.publish(JointState(name=['a', 'b', 'c', 'd'], velocity=[0.0] * 4))

    talker.create_timer(1.0 / rate, tick)
    listener.create_subscription(JointState, 'bench_executor',
                                 lambda _m: received.append(time.monotonic()), qos)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    time.sleep(0.5)                       # discovery
    t0 = time.monotonic()
    time.sleep(seconds)
    t1 = time.monotonic()
    executor.shutdown(timeout_sec=2.0)
    rclpy.try_shutdown(context=context)
    spinner.join(timeout=2.0)
    window = [t for t in received if t0 <= t <= t1]
    gaps = sorted(b - a for a, b in zip(window, window[1:])) or [seconds]
    return {
        'timer_hz': sum(1 for t in ticks if t0 <= t <= t1) / (t1 - t0),
        'received_hz': len(window) / (t1 - t0),
        'gap_p50_ms': 1e3 * statistics.median(gaps),
        'gap_p99_ms': 1e3 * gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))],
        'gap_max_ms': 1e3 * gaps[-1],
    }


def main() -> int:
    from vla_testing.ros import isolate_ros_environment, pick_domain_id

    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--rate', type=float, default=50.0, help='timer rate (Hz)')
    ap.add_argument('--seconds', type=float, default=3.0, help='measured seconds per trial')
    ap.add_argument('--trials', type=int, default=3, help='trials per executor')
    ap.add_argument('--qos', choices=('best_effort', 'reliable'), default='best_effort')
    args = ap.parse_args()
    isolate_ros_environment(pick_domain_id())
    worst: Dict[str, float] = {}
    print(f'timer {args.rate:g} Hz -> in-process subscriber ({args.qos}), '
          f'{args.trials} x {args.seconds:g} s per executor')
    print(f'{"executor":<8} {"trial":>5} {"timer Hz":>9} {"recv Hz":>8} {"gap p50 ms":>11} '
          f'{"gap p99 ms":>11} {"gap max ms":>11}')
    for kind in ('single', 'multi'):
        for trial in range(args.trials):
            r = run_trial(kind, args.rate, args.seconds, args.qos)
            worst[kind] = max(worst.get(kind, 0.0), r['gap_p99_ms'])
            print(f'{kind:<8} {trial:>5} {r["timer_hz"]:>9.1f} {r["received_hz"]:>8.1f} '
                  f'{r["gap_p50_ms"]:>11.1f} {r["gap_p99_ms"]:>11.1f} {r["gap_max_ms"]:>11.1f}',
                  flush=True)
    print(f'worst p99 gap: single {worst["single"]:.1f} ms, multi {worst["multi"]:.1f} ms '
          f'({worst["multi"] / max(worst["single"], 1e-9):.1f}x)')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
