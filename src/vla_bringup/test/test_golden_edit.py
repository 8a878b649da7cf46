"""Golden-bag edits (vla_bringup.core.golden_edit), without ROS: restamping to sim time,
thinning /clock, deriving fault bags, merging replayed outputs and the golden.yaml entries.

The codec is faked here (a /clock payload is its time as 8 little-endian bytes; an encoded
message is the repr of its fields); test_golden_codec.py checks the rclpy codec of golden.py.
"""

import math

import pytest
from vla_bringup.bags import BagMessage
from vla_bringup.core.golden_edit import (bag_metadata, derive_fault, FAULTS,
                                          nan_burst_commands, restamp_to_sim_time, thin_clock,
                                          with_outputs)

MS = 1_000_000


def clock(t_ns, stamp=0):
    return BagMessage('/clock', 'rosgraph_msgs/msg/Clock', stamp, t_ns.to_bytes(8, 'little'))


def msg(topic, stamp, data=b'x'):
    return BagMessage(topic, 'pkg/msg/T', stamp, data)


def clock_ns(data):
    return int.from_bytes(data, 'little')


def encode(msgtype, fields):
    return repr((msgtype, fields)).encode()


def nominal(seconds=4.0, step_ms=10):
    """A nominal bag on sim time: /clock every step, camera and odometry every other step."""
    out = []
    for i in range(int(seconds * 1000 / step_ms)):
        t = 5_000 * MS + i * step_ms * MS
        out.append(clock(t, t))
        if i % 2 == 0:
            out += [msg('/camera/image_raw/compressed', t), msg('/odom', t), msg('/scan', t)]
    return out


def test_restamp_uses_the_latest_clock_and_drops_what_came_before_it():
    wall = [msg('/odom', 1), clock(100, 2), msg('/odom', 3), msg('/scan', 4), clock(250, 5),
            msg('/camera/image_raw', 6)]
    out = restamp_to_sim_time(wall, clock_ns)
    assert [(m.topic, m.timestamp) for m in out] == [
        ('/clock', 100), ('/odom', 100), ('/scan', 100), ('/clock', 250),
        ('/camera/image_raw', 250)]
    assert [m.data for m in out] == [m.data for m in wall[1:]]
    assert all(m.msgtype == w.msgtype for m, w in zip(out, wall[1:]))


def test_restamped_time_never_goes_back():
    out = restamp_to_sim_time([clock(300), msg('/odom', 0), clock(200), msg('/odom', 0)],
                              clock_ns)
    assert [m.timestamp for m in out] == [300, 300, 300, 300]


def test_restamp_without_a_clock_drops_everything():
    assert restamp_to_sim_time([msg('/odom', 1), msg('/scan', 2)], clock_ns) == []


def test_thin_clock_keeps_one_clock_per_period_and_every_other_message():
    ms = [clock(0, t * MS) for t in (0, 3, 9, 10, 15, 21, 40)] + [msg('/odom', 5 * MS)]
    out = thin_clock(sorted(ms, key=lambda m: m.timestamp))
    assert [m.timestamp // MS for m in out if m.topic == '/clock'] == [0, 10, 21, 40]
    assert [m for m in out if m.topic == '/odom'] == [ms[-1]]
    coarse = thin_clock(ms[:-1], period_ns=20 * MS)
    assert [m.timestamp // MS for m in coarse] == [0, 21]  # 40 is only 19 ms after 21


@pytest.mark.parametrize('fault, topic', [('camera_stops', '/camera/image_raw/compressed'),
                                          ('odom_stops', '/odom')])
def test_stopping_faults_drop_one_topic_from_the_fault_on(fault, topic):
    base = nominal()
    out = derive_fault(base, fault, 2.0, encode)
    t_fault = base[0].timestamp + 2_000_000_000
    kept = [m for m in base if not (m.topic == topic and m.timestamp >= t_fault)]
    assert out == kept
    assert max(m.timestamp for m in out if m.topic == topic) < t_fault
    assert any(m.topic == topic for m in base if m.timestamp >= t_fault)


def test_nan_burst_injects_a_fifth_of_a_second_of_non_finite_commands():
    base = nominal()
    out = derive_fault(base, 'nan_burst', 1.5, encode)
    injected = [m for m in out if m.topic == '/cmd_vel_in_injected']
    t_fault = base[0].timestamp + 1_500_000_000
    assert [m.timestamp for m in injected] == [t_fault + i * 20 * MS for i in range(10)]
    assert all(m.msgtype == 'geometry_msgs/msg/Twist' for m in injected)
    assert [m.data for m in injected] == [encode('geometry_msgs/msg/Twist', f)
                                          for f in nan_burst_commands()]
    assert [m for m in out if m.topic != '/cmd_vel_in_injected'] == base
    assert [m.timestamp for m in out] == sorted(m.timestamp for m in out)


def test_nan_burst_commands_are_all_non_finite():
    commands = nan_burst_commands()
    assert len(commands) == 10
    for c in commands:
        values = (c['linear']['x'], c['linear']['y'], c['angular']['z'])
        assert not all(math.isfinite(v) for v in values)
    assert {c['linear']['x'] for c in commands if not math.isnan(c['linear']['x'])} == {0.3}
    assert sum(math.isinf(c['angular']['z']) for c in commands) == 4


def test_estop_injects_one_true_at_the_fault():
    base = nominal()
    out = derive_fault(base, 'estop', 2.0, encode)
    estop = [m for m in out if m.topic == '/estop']
    assert len(estop) == 1 and estop[0].timestamp == base[0].timestamp + 2_000_000_000
    assert estop[0].msgtype == 'std_msgs/msg/Bool'
    assert estop[0].data == encode('std_msgs/msg/Bool', {'data': True})
    assert len(out) == len(base) + 1
    assert [m.timestamp for m in out] == sorted(m.timestamp for m in out)


def test_every_listed_fault_is_derivable_and_others_are_refused():
    base = nominal(1.0)
    for fault in FAULTS:
        assert derive_fault(base, fault, 0.5, encode)
    with pytest.raises(ValueError, match='unknown fault'):
        derive_fault(base, 'lidar_stops', 0.5, encode)
    assert base == nominal(1.0)  # the nominal bag is left alone


def test_with_outputs_merges_by_time_and_drops_outputs_before_the_inputs():
    inputs = [msg('/odom', 100), msg('/odom', 300)]
    captured = {'/cmd_vel': [(50, b'early'), (100, b'a'), (400, b'b')],
                '/safety_gate/state': [(200, b's')]}
    types = {'/cmd_vel': 'geometry_msgs/msg/Twist',
             '/safety_gate/state': 'vla_msgs/msg/SafetyState'}
    merged, outputs = with_outputs(inputs, captured, types)
    assert outputs == [BagMessage('/cmd_vel', 'geometry_msgs/msg/Twist', 100, b'a'),
                       BagMessage('/cmd_vel', 'geometry_msgs/msg/Twist', 400, b'b'),
                       BagMessage('/safety_gate/state', 'vla_msgs/msg/SafetyState', 200, b's')]
    assert [(m.topic, m.timestamp) for m in merged] == [
        ('/odom', 100), ('/cmd_vel', 100), ('/safety_gate/state', 200), ('/odom', 300),
        ('/cmd_vel', 400)]


def test_bag_metadata():
    assert bag_metadata('nominal_2box_hori_right', 2.0) == {
        'fault': 'none', 'fault_at': None, 'scenario': '2box_hori_right'}
    assert bag_metadata('fault_nan_burst', 2.0) == {
        'fault': 'nan_burst', 'fault_at': 2.0, 'scenario': '1box_vert_left'}
