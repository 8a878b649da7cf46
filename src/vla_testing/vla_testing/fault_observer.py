"""Observer/operator process of the two-host fault trials: `python -m vla_testing.fault_observer`.

Runs on one host (inside its network namespace) and prints one JSON object per line, each
stamped `t` with this machine's CLOCK_MONOTONIC (shared by both namespaces, so the two
hosts' records compare directly).

- `--side robot`: records what the robot receives and does: the gate's output `cmd_vel`
  (`k: cmd`), its state (`k: state`), the episode result (`k: result`), the simulator's
  `/clock` (`k: clock`, `sim` seconds; at most one record per CLOCK_RECORD_PERIOD of wall time:
  the gate's own clock under `time_source: ros`), and `cmd_vel_in` /
  `heartbeat` as they arrive over the link (`k: rx_cmd` / `rx_hb`). Reads operator commands,
  one per line on stdin: `start SCENARIO SEED`, `text INSTRUCTION`, `estop`, `reset`
  (answers `k: reply`).
- `--side policy`: records the policy's `cmd_vel_in` and `heartbeat` as published (local to
  the policy host: `k: tx_cmd` / `tx_hb`).

Every sample record also carries its DDS timestamps moved onto the same monotonic base:
`src` (when the writer published it: `MessageInfo.source_timestamp`) and `rcv` (when this
host received it: `received_timestamp`), both system-clock ns converted with the
realtime - monotonic offset read in the callback, plus `seq` and `gid` (the writer) when the
RMW gives them. `t` is when the callback ran, which under load can be long after `rcv`:
judge order and freshness from `src` / `rcv`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

#: wall s between two `clock` records (enough to map wall time onto sim time to a few ms).
CLOCK_RECORD_PERIOD = 0.01


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='fault_observer')
    parser.add_argument('--side', choices=('robot', 'policy'), required=True)
    args = parser.parse_args(argv)

    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.executors import SingleThreadedExecutor
    from rosgraph_msgs.msg import Clock
    from std_msgs.msg import Header, String
    from vla_common import topics
    from vla_common.qos import COMMAND_QOS, LATCHED_QOS, RELIABLE_QOS
    from vla_msgs.msg import EpisodeResult, SafetyState
    from vla_msgs.srv import Estop, StartEpisode

    lock = threading.Lock()

    def emit(record: Dict[str, Any], info: Any = None) -> None:
        record['t'] = time.monotonic()
        if info is not None:
            # Both namespaces share the kernel clocks: one offset maps the system-clock DDS
            # stamps onto CLOCK_MONOTONIC.
            offset = time.time() - record['t']
            src, rcv = info['source_timestamp'], info['received_timestamp']
            record['src'] = src * 1e-9 - offset if src else None
            record['rcv'] = rcv * 1e-9 - offset if rcv else None
            record['seq'] = info.get('publication_sequence_number')
            gid = info.get('publisher_gid')
            if gid:
                record['gid'] = bytes(gid.get('data', b'')).hex()[:24] \
                    if isinstance(gid, dict) else str(gid)
        with lock:
            sys.stdout.write(json.dumps(record) + '\n')
            sys.stdout.flush()

    def twist(m: Twist) -> List[float]:
        return [m.linear.x, m.linear.y, m.angular.z]

    rclpy.init(args=['--ros-args'])
    node = rclpy.create_node(f'fault_observer_{args.side}')

    def samples(kind: str, values: Callable[[Any], Dict[str, Any]]) -> Callable[[Any, Any], None]:
        return lambda m, info: emit(dict(k=kind, **values(m)), info)

    def stamp(h: Header) -> Dict[str, Any]:
        return {'stamp': h.stamp.sec + h.stamp.nanosec * 1e-9}

    cmd_kind, hb_kind = ('tx_cmd', 'tx_hb') if args.side == 'policy' else ('rx_cmd', 'rx_hb')
    node.create_subscription(Twist, topics.CMD_VEL_IN,
                             samples(cmd_kind, lambda m: {'v': twist(m)}), COMMAND_QOS)
    node.create_subscription(Header, topics.HEARTBEAT, samples(hb_kind, stamp), COMMAND_QOS)
    if args.side == 'robot':
        node.create_subscription(Twist, topics.CMD_VEL,
                                 samples('cmd', lambda m: {'v': twist(m)}), COMMAND_QOS)
        node.create_subscription(
            SafetyState, f'{topics.SAFETY_NODE}/state',
            lambda m: emit({'k': 'state', 'state': int(m.state), 'reasons': int(m.reasons),
                            'names': list(m.reason_names), 'age': float(m.command_age)}),
            LATCHED_QOS)
        node.create_subscription(
            EpisodeResult, topics.EPISODE_RESULT,
            lambda m: emit({'k': 'result', 'outcome': int(m.outcome), 'scenario': m.scenario,
                            'seed': int(m.seed), 'time': float(m.time)}), LATCHED_QOS)
        last_clock = [-1.0]

        def on_clock(m: Clock, info: Any) -> None:
            if time.monotonic() - last_clock[0] < CLOCK_RECORD_PERIOD:
                return
            last_clock[0] = time.monotonic()
            emit({'k': 'clock', 'sim': m.clock.sec + m.clock.nanosec * 1e-9}, info)

        node.create_subscription(Clock, topics.CLOCK, on_clock, RELIABLE_QOS)
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
