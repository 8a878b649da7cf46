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

#: Fault bags derived from a nominal one (`derive_fault`): the mobile robot's ...
FAULTS = ('camera_stops', 'odom_stops', 'nan_burst', 'estop')
#: ... and the arm's (joint_states_stop: the driver's joint states stop).
ARM_FAULTS = ('camera_stops', 'joint_states_stop', 'nan_burst', 'estop')
#: The nominal recording the fault bags are derived from, per robot.
FAULT_BASE_SCENARIO = '1box_vert_left'
ARM_FAULT_BASE_TASK = 'blue_block_tray'
#: A sensor stream a fault stops, and where injected commands go (published onto the
#: gate's input by the replay: `/<cmd>_injected` -> `/<cmd>`).
_STOPPED = {'odom_stops': '/odom', 'joint_states_stop': '/joint_states'}
INJECTED = {'/cmd_vel_in_injected': '/cmd_vel_in', '/arm_cmd_in_injected': '/arm_cmd_in'}

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


def nan_burst_arm_commands() -> List[Dict[str, object]]:
    """The ArmCommand fields of the arm's `nan_burst`: 10 end-effector deltas, each with a
    non-finite value."""
    return [{'mode': 0, 'ee_delta': [math.nan if i % 2 == 0 else 0.003, 0.0,
                                     math.inf if i % 3 == 0 else 0.0, 0.0, 0.0, 0.0],
             'gripper': math.nan if i % 4 == 0 else 0.0} for i in range(10)]


def derive_fault(messages: Sequence[BagMessage], fault: str, at: float,
                 encode: Encoder, robot: str = 'mobile') -> List[BagMessage]:
    """A fault bag from a nominal one: drop or inject messages from `at` s after the start.

    `camera_stops` / `odom_stops` / `joint_states_stop` drop the camera / odometry / joint
    states from then on; `nan_burst` injects 0.2 s of non-finite commands at 50 Hz on
    /cmd_vel_in_injected (mobile) or /arm_cmd_in_injected (arm); `estop` injects one
    /estop true. Injected messages are serialized with `encode`.
    """
    if fault not in (ARM_FAULTS if robot == 'arm' else FAULTS):
        raise ValueError(f'unknown fault {fault!r} for the {robot}')
    t0 = messages[0].timestamp
    t_fault = t0 + int(at * 1e9)
    if fault == 'camera_stops':
        return [m for m in messages if not (m.topic.startswith('/camera')
                                            and m.timestamp >= t_fault)]
    if fault in _STOPPED:
        return [m for m in messages if not (m.topic == _STOPPED[fault]
                                            and m.timestamp >= t_fault)]
    out = list(messages)
    if fault == 'nan_burst':
        # 0.2 s of NaN commands at 50 Hz
        if robot == 'arm':
            burst = [('/arm_cmd_in_injected', 'vla_msgs/msg/ArmCommand', f)
                     for f in nan_burst_arm_commands()]
        else:
            burst = [('/cmd_vel_in_injected', 'geometry_msgs/msg/Twist', f)
                     for f in nan_burst_commands()]
        for i, (topic, msgtype, fields) in enumerate(burst):
            out.append(BagMessage(topic, msgtype, t_fault + i * 20_000_000,
                                  encode(msgtype, fields)))
    else:   # estop
        out.append(BagMessage('/estop', 'std_msgs/msg/Bool', t_fault,
                              encode('std_msgs/msg/Bool', {'data': True})))
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


def bag_metadata(name: str, fault_at: float, base: str = FAULT_BASE_SCENARIO
                 ) -> Dict[str, Optional[object]]:
    """`golden.yaml` entry of bag `name` ('nominal_<scenario>' or 'fault_<kind>').

    Fault bags are derived from `base` (the robot's FAULT_BASE_SCENARIO / ARM_FAULT_BASE_TASK);
    `fault_at` is only recorded for them.
    """
    fault = name.startswith('fault_')
    return {'fault': name[6:] if fault else 'none',
            'fault_at': fault_at if fault else None,
            'scenario': name.split('_', 1)[1] if name.startswith('nominal_') else base}
