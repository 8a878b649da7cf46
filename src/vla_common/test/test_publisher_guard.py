"""The sole-publisher rule (pure) and the guard over a real rclpy graph."""

import time

from geometry_msgs.msg import Twist
from vla_common.publisher_guard import (CLEARED, FOREIGN, fully_qualified, judge_publishers,
                                        PublisherGuard, resolve_allowed, UNKNOWN_NAMESPACE,
                                        UNKNOWN_NODE)
from vla_common.qos import COMMAND_QOS
from vla_testing.ros import wait_for


def test_names_are_fully_qualified():
    assert fully_qualified('safety_gate', '/') == '/safety_gate'
    assert fully_qualified('safety_gate', '/robot1') == '/robot1/safety_gate'
    assert fully_qualified('safety_gate', 'robot1/') == '/robot1/safety_gate'
    assert fully_qualified(UNKNOWN_NODE, UNKNOWN_NAMESPACE) == '<unknown node>'
    assert resolve_allowed('safety_gate', '/') == '/safety_gate'
    assert resolve_allowed('safety_gate', '/robot1') == '/robot1/safety_gate'
    assert resolve_allowed('/other/gate', '/robot1') == '/other/gate'
    assert resolve_allowed('  ', '/robot1') == ''


def test_only_the_allowed_node_alone_is_accepted():
    ok = judge_publishers(['/safety_gate', '/safety_gate'], '/safety_gate')
    assert ok.ok and not ok.rogue and ok.publishers == ('/safety_gate',)
    second = judge_publishers(['/safety_gate', '/teleop'], '/safety_gate')
    assert not second.ok and second.rogue and second.foreign == ('/teleop',)
    assert second.reason == 'publisher(s) other than /safety_gate: /teleop'
    impostor = judge_publishers(['/robot2/safety_gate'], '/safety_gate')
    assert impostor.rogue and impostor.foreign == ('/robot2/safety_gate',)
    # A writer whose node is not known yet is foreign: fail closed during discovery.
    unknown = judge_publishers(['/safety_gate', '<unknown node>'], '/safety_gate')
    assert unknown.rogue
    none = judge_publishers([], '/safety_gate')
    assert not none.ok and not none.rogue and 'no publisher' in none.reason
    assert judge_publishers(['/anyone'], '').ok           # disabled


def test_guard_over_the_graph_reports_appearance_and_disappearance(ros):
    consumer = ros.create_node('guarded_consumer')
    sub = consumer.create_subscription(Twist, 'cmd_vel', lambda m: None, COMMAND_QOS)
    guard = PublisherGuard(consumer, sub, 'guard_gate')
    assert guard.topic == '/cmd_vel' and guard.allowed == '/guard_gate'
    gate = ros.create_node('guard_gate')
    gate.create_publisher(Twist, 'cmd_vel', COMMAND_QOS)
    wait_for(lambda: guard.check()[0].ok, what='the gate in the graph')
    assert guard.check() == (guard.verdict, '')
    rogue = ros.create_node('guard_rogue')
    pub = rogue.create_publisher(Twist, 'cmd_vel', COMMAND_QOS)
    events = []

    def seen_foreign():
        verdict, event = guard.check()
        events.append(event)
        return verdict.rogue

    wait_for(seen_foreign, what='the rogue in the graph')
    assert events[-1] == FOREIGN and guard.verdict.foreign == ('/guard_rogue',)
    rogue.destroy_publisher(pub)
    deadline = time.monotonic() + 10.0
    verdict, event = guard.check()
    while verdict.rogue:
        assert time.monotonic() < deadline, 'the rogue never left the graph'
        time.sleep(0.05)
        verdict, event = guard.check()
    assert verdict.ok and event == CLEARED     # reported once, when it goes
    assert guard.check()[1] == ''
