"""The rclpy codec golden.py hands to the pure golden-bag edits: /clock decoding and message
encoding from plain field dicts give the same bytes as building the messages directly."""

import math

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist
from rclpy.serialization import deserialize_message, serialize_message
from rosgraph_msgs.msg import Clock
from std_msgs.msg import Bool
from vla_bringup.bags import BagMessage
from vla_bringup.core.golden_edit import derive_fault, nan_burst_commands, restamp_to_sim_time
from vla_bringup.golden import clock_ns, encode_message


def test_clock_ns_reads_sim_time():
    data = serialize_message(Clock(clock=Time(sec=12, nanosec=345_000_678)))
    assert clock_ns(data) == 12_345_000_678
    msgs = [BagMessage('/clock', 'rosgraph_msgs/msg/Clock', 999, data),
            BagMessage('/odom', 'nav_msgs/msg/Odometry', 1_000, b'o')]
    assert [m.timestamp for m in restamp_to_sim_time(msgs, clock_ns)] == [12_345_000_678] * 2


def test_encode_message_matches_direct_construction():
    for i, fields in enumerate(nan_burst_commands()):
        bad = Twist()
        bad.linear.x = math.nan if i % 2 == 0 else 0.3
        bad.angular.z = math.inf if i % 3 == 0 else 0.0
        bad.linear.y = math.nan
        assert encode_message('geometry_msgs/msg/Twist', fields) == serialize_message(bad)
    assert encode_message('std_msgs/msg/Bool', {'data': True}) == \
        serialize_message(Bool(data=True))


def test_derived_fault_messages_decode():
    base = [BagMessage('/odom', 'nav_msgs/msg/Odometry', t, b'o') for t in range(0, 10 ** 9,
                                                                                 10 ** 7)]
    burst = [m for m in derive_fault(base, 'nan_burst', 0.5, encode_message)
             if m.topic == '/cmd_vel_in_injected']
    twists = [deserialize_message(m.data, Twist) for m in burst]
    assert len(twists) == 10 and all(math.isnan(t.linear.y) for t in twists)
    estop = [m for m in derive_fault(base, 'estop', 0.5, encode_message) if m.topic == '/estop']
    assert deserialize_message(estop[0].data, Bool).data is True
