"""Edits on recorded message lists that turn raw recordings into golden bags (pure logic).

Messages stay CDR bytes (`BagMessage`). Where an edit has to look into or build a message, the
caller passes the codec: `clock_ns(data) -> int` reads a rosgraph_msgs/Clock, and
`encode(msgtype, fields) -> bytes` serializes a message of type `msgtype` whose fields are set
from a plain nested dict (`{'linear': {'x': 0.3}}`); vla_bringup.golden supplies both via rclpy.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from vla_bringup.bags import BagMessage

#: Fault bags derived from a nominal one (`derive_fault`).
FAULTS = ('camera_stops', 'odom_stops', 'nan_burst', 'estop')
#: The nominal recording the fault bags are derived from.
FAULT_BASE_SCENARIO = '1box_vert_left'

ClockDecoder = Callable[[bytes], int]
Encoder = Callable[[str, Mapping[str, Any]], bytes]


def restamp_to_sim_time(messages: Sequence[BagMessage],
                        clock_ns: ClockDecoder) -> List[BagMessage]:
    """Stamp every message with the simulator time (/clock content) current when it arrived.

    The recorder stamps with wall time; the replay drives the stack with the bag's /clock, so
    the bag's timeline must be sim time. Messages before the first /clock are dropped.
    `clock_ns` maps a /clock message's CDR bytes to its time in ns; sim time never goes back.
    """
    out, now = [], None
    for m in messages:
        if m.topic == '/clock':
            now = max(now or 0, clock_ns(m.data))
        if now is not None:
            out.append(BagMessage(m.topic, m.msgtype, now, m.data))
    return out


def thin_clock(messages: Sequence[BagMessage], period_ns: int = 10_000_000) -> List[BagMessage]:
    """Keep one /clock message per `period_ns` (100 Hz is plenty for 50 Hz timers)."""
    out, last = [], None
    for m in messages:
        if m.topic == '/clock':
            if last is not None and m.timestamp - last < period_ns:
                continue
            last = m.timestamp
        out.append(m)
    return out


def nan_burst_commands() -> List[Dict[str, Dict[str, float]]]:
    """The Twist fields of the `nan_burst` fault: 10 commands, each with a non-finite value."""
    return [{'linear': {'x': math.nan if i % 2 == 0 else 0.3, 'y': math.nan},
             'angular': {'z': math.inf if i % 3 == 0 else 0.0}} for i in range(10)]


def derive_fault(messages: Sequence[BagMessage], fault: str, at: float,
                 encode: Encoder) -> List[BagMessage]:
    """A fault bag from a nominal one: drop or inject messages from `at` s after the start.

    `camera_stops` / `odom_stops` drop the camera / odometry from then on; `nan_burst` injects
    0.2 s of non-finite commands at 50 Hz on /cmd_vel_in_injected; `estop` injects one
    /estop true. Injected messages are serialized with `encode`.
    """
    t0 = messages[0].timestamp
    t_fault = t0 + int(at * 1e9)
    if fault == 'camera_stops':
        return [m for m in messages if not (m.topic.startswith('/camera')
                                            and m.timestamp >= t_fault)]
    if fault == 'odom_stops':
        return [m for m in messages if not (m.topic == '/odom' and m.timestamp >= t_fault)]
    out = list(messages)
    if fault == 'nan_burst':
        for i, fields in enumerate(nan_burst_commands()):  # 0.2 s of NaN commands at 50 Hz
            out.append(BagMessage('/cmd_vel_in_injected', 'geometry_msgs/msg/Twist',
                                  t_fault + i * 20_000_000,
                                  encode('geometry_msgs/msg/Twist', fields)))
    elif fault == 'estop':
        out.append(BagMessage('/estop', 'std_msgs/msg/Bool', t_fault,
                              encode('std_msgs/msg/Bool', {'data': True})))
    else:
        raise ValueError(f'unknown fault {fault!r}')
    return sorted(out, key=lambda m: m.timestamp)


def with_outputs(messages: Sequence[BagMessage],
                 captured: Mapping[str, Sequence[Tuple[int, bytes]]],
                 output_types: Mapping[str, str]) -> Tuple[List[BagMessage], List[BagMessage]]:
    """Merge replayed outputs into an input bag: (all messages by time, the outputs kept).

    `captured` maps an output topic to (ns, CDR bytes) samples; outputs stamped before the
    first input are dropped, and `output_types` gives each topic's message type.
    """
    start = messages[0].timestamp
    outputs = [BagMessage(topic, output_types[topic], t, d)
               for topic, items in captured.items() for t, d in items if t >= start]
    return sorted(list(messages) + outputs, key=lambda m: m.timestamp), outputs


def bag_metadata(name: str, fault_at: float) -> Dict[str, Optional[object]]:
    """`golden.yaml` entry of bag `name` ('nominal_<scenario>' or 'fault_<kind>').

    Fault bags are derived from `FAULT_BASE_SCENARIO`; `fault_at` is only recorded for them.
    """
    fault = name.startswith('fault_')
    return {'fault': name[6:] if fault else 'none',
            'fault_at': fault_at if fault else None,
            'scenario': name.split('_', 1)[1] if name.startswith('nominal_')
            else FAULT_BASE_SCENARIO}
