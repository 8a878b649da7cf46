"""Observer/operator process of the two-host fault trials: `python -m vla_testing.fault_observer`.

Runs on one host (inside its network namespace) and prints one JSON object per line, each
stamped `t` with this machine's CLOCK_MONOTONIC (shared by both namespaces, so the two
hosts' records compare directly).

- `--side robot`: records what the robot receives and does: the gate's output `cmd_vel`
  (`k: cmd`), its state (`k: state`), the episode result (`k: result`), and `cmd_vel_in` /
  `heartbeat` as they arrive over the link (`k: rx_cmd` / `rx_hb`). Reads operator commands,
  one per line on stdin: `start SCENARIO SEED`, `text INSTRUCTION`, `estop`, `reset`
  (answers `k: reply`).
- `--side policy`: records the policy's `cmd_vel_in` and `heartbeat` as published (local to
  the policy host: `k: tx_cmd` / `tx_hb`).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any, Dict, List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='fault_observer')
    parser.add_argument('--side', choices=('robot', 'policy'), required=True)
    args = parser.parse_args(argv)

    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import Header, String
    from vla_common import topics
    from vla_common.qos import COMMAND_QOS, LATCHED_QOS, RELIABLE_QOS
    from vla_msgs.msg import EpisodeResult, SafetyState
    from vla_msgs.srv import Estop, StartEpisode

    lock = threading.Lock()

    def emit(record: Dict[str, Any]) -> None:
        record['t'] = time.monotonic()
        with lock:
            sys.stdout.write(json.dumps(record) + '\n')
            sys.stdout.flush()

    def twist(m: Twist) -> List[float]:
        return [m.linear.x, m.linear.y, m.angular.z]

    rclpy.init(args=['--ros-args'])
    node = rclpy.create_node(f'fault_observer_{args.side}')
    if args.side == 'policy':
        node.create_subscription(Twist, topics.CMD_VEL_IN,
                                 lambda m: emit({'k': 'tx_cmd', 'v': twist(m)}), COMMAND_QOS)
        node.create_subscription(Header, topics.HEARTBEAT, lambda m: emit({'k': 'tx_hb'}),
                                 COMMAND_QOS)
    else:
        node.create_subscription(Twist, topics.CMD_VEL,
                                 lambda m: emit({'k': 'cmd', 'v': twist(m)}), COMMAND_QOS)
        node.create_subscription(Twist, topics.CMD_VEL_IN,
                                 lambda m: emit({'k': 'rx_cmd', 'v': twist(m)}), COMMAND_QOS)
        node.create_subscription(Header, topics.HEARTBEAT, lambda m: emit({'k': 'rx_hb'}),
                                 COMMAND_QOS)
        node.create_subscription(
            SafetyState, f'{topics.SAFETY_NODE}/state',
            lambda m: emit({'k': 'state', 'state': int(m.state), 'reasons': int(m.reasons),
                            'names': list(m.reason_names), 'age': float(m.command_age)}),
            LATCHED_QOS)
        node.create_subscription(
            EpisodeResult, topics.EPISODE_RESULT,
            lambda m: emit({'k': 'result', 'outcome': int(m.outcome), 'scenario': m.scenario,
                            'seed': int(m.seed), 'time': float(m.time)}), LATCHED_QOS)
    text_pub = node.create_publisher(String, topics.INSTRUCTION_TEXT, RELIABLE_QOS)
    start = node.create_client(StartEpisode, f'{topics.SIM_NODE}/start_episode')
    trigger = node.create_client(Estop, f'{topics.SAFETY_NODE}/trigger_estop')
    reset = node.create_client(Estop, f'{topics.SAFETY_NODE}/reset_estop')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()

    def call(client: Any, request: Any, what: str) -> None:
        if not client.wait_for_service(timeout_sec=30.0):
            emit({'k': 'reply', 'what': what, 'ok': False, 'message': 'no service'})
            return
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(30.0):
            emit({'k': 'reply', 'what': what, 'ok': False, 'message': 'no answer'})
            return
        res = future.result()
        emit({'k': 'reply', 'what': what, 'ok': bool(res.success), 'message': res.message})

    emit({'k': 'ready', 'side': args.side})
    try:
        for line in sys.stdin:
            word, _, rest = line.strip().partition(' ')
            if word == 'start':
                scenario, _, seed = rest.partition(' ')
                call(start, StartEpisode.Request(scenario=scenario, seed=int(seed or 0)),
                     'start')
            elif word == 'text':
                text_pub.publish(String(data=rest))
                emit({'k': 'reply', 'what': 'text', 'ok': True, 'message': rest})
            elif word == 'estop':
                call(trigger, Estop.Request(reason='fault trial'), 'estop')
            elif word == 'reset':
                call(reset, Estop.Request(reason='fault trial'), 'reset')
            elif word == 'quit':
                break
    except KeyboardInterrupt:
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
