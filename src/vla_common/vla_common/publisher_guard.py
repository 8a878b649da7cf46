"""Sole-publisher guard: an actuator takes its command topic only from the configured node.

The Fast DDS of the PyPI wheels is built without the DDS-Security plugins, so nothing stops a
second process from publishing `cmd_vel` or `arm_cmd` next to the safety gate (a forgotten
`ros2 topic pub`, a teleop node, a bug). The consumers of those topics (`base_driver`,
`mujoco_sim`, `realman_bridge`) therefore check the ROS graph
(`get_publishers_info_by_topic`): a command is accepted only while every publisher of the
topic is the configured node (the gate); any other publisher means stop, and the diagnostic
names it. On the Humble target the SROS2 permissions (`vla_bringup.security`) are the access
control proper; this guard is the check that works everywhere.

`judge_publishers` is the pure decision; `PublisherGuard` wraps a node's graph query. A writer
whose node is not known yet (`_NODE_NAME_UNKNOWN_`: discovered, node name not yet announced)
counts as foreign, so the guard fails closed while discovery is incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence, Tuple

UNKNOWN_NODE = '_NODE_NAME_UNKNOWN_'
UNKNOWN_NAMESPACE = '_NODE_NAMESPACE_UNKNOWN_'
#: `PublisherGuard.check` events
FOREIGN = 'foreign'
CLEARED = 'cleared'


def fully_qualified(name: str, namespace: str) -> str:
    """'/ns/name' from a node name and namespace ('/', '' and '/ns' forms)."""
    if name == UNKNOWN_NODE or namespace == UNKNOWN_NAMESPACE:
        return '<unknown node>'
    ns = namespace.rstrip('/')
    if ns and not ns.startswith('/'):
        ns = '/' + ns
    return f'{ns}/{name}'


def resolve_allowed(allowed: str, own_namespace: str) -> str:
    """The allowed publisher as a fully-qualified node name; relative names are resolved in
    the guarding node's namespace ('safety_gate' in '/robot1' -> '/robot1/safety_gate')."""
    allowed = allowed.strip()
    if not allowed or allowed.startswith('/'):
        return allowed
    return fully_qualified(allowed, own_namespace or '/')


@dataclass(frozen=True)
class GuardVerdict:
    """Whether commands may be accepted now, and who publishes."""

    ok: bool
    publishers: Tuple[str, ...]     # fully-qualified names, sorted, one entry per node
    foreign: Tuple[str, ...]        # the publishers that are not the allowed node
    reason: str                     # '' when ok

    @property
    def rogue(self) -> bool:
        """A foreign publisher is present (stop and report), not merely no publisher."""
        return bool(self.foreign)


def judge_publishers(publishers: Iterable[str], allowed: str) -> GuardVerdict:
    """Accept only while the allowed node is the sole publisher (several writers of that one
    node are fine). An empty `allowed` disables the check."""
    names = tuple(sorted(set(publishers)))
    if not allowed:
        return GuardVerdict(True, names, (), '')
    foreign = tuple(n for n in names if n != allowed)
    if foreign:
        return GuardVerdict(False, names, foreign,
                            f'publisher(s) other than {allowed}: {", ".join(foreign)}')
    if not names:
        return GuardVerdict(False, names, (), f'no publisher (expected {allowed})')
    return GuardVerdict(True, names, (), '')


class PublisherGuard:
    """Checks the publishers of one subscription's topic through the node's graph."""

    def __init__(self, node: Any, subscription: Any, allowed: str) -> None:
        self._node = node
        self.topic = subscription.topic_name      # fully qualified after remapping
        self.allowed = resolve_allowed(allowed, node.get_namespace())
        self.verdict: Optional[GuardVerdict] = None

    @classmethod
    def on_commands(cls, node: Any, msg_type: Any, topic: str, callback: Any, qos: Any,
                    param: str, consequence: str) -> 'PublisherGuard':
        """Subscribe `node` to the command topic `topic`, which only the safety gate may
        publish, and guard it: the read-only parameter `param` names the allowed publisher;
        `consequence` says what the node does while another one publishes."""
        from vla_common.params import declare
        from vla_common.topics import SAFETY_NODE

        subscription = node.create_subscription(msg_type, topic, callback, qos)
        return cls(node, subscription, declare(
            node, param, SAFETY_NODE,
            f'the only node allowed to publish {topic} (the safety gate; relative names are in '
            f'this node\'s namespace); {consequence}. Empty disables the check', read_only=True))

    @property
    def enabled(self) -> bool:
        return bool(self.allowed)

    def check(self) -> Tuple[GuardVerdict, str]:
        """(verdict now, event): event is FOREIGN when a foreign publisher appeared (or the
        set of them changed), CLEARED when the last one went away, '' otherwise."""
        infos: Sequence[Any] = (self._node.get_publishers_info_by_topic(self.topic)
                                if self.allowed else ())
        verdict = judge_publishers((fully_qualified(i.node_name, i.node_namespace)
                                    for i in infos), self.allowed)
        before, self.verdict = self.verdict, verdict
        event = ''
        if verdict.rogue and (before is None or before.foreign != verdict.foreign):
            event = FOREIGN
        elif not verdict.rogue and before is not None and before.rogue:
            event = CLEARED
        return verdict, event

    def describe(self) -> str:
        """One line for the start-up log."""
        if not self.allowed:
            return f'{self.topic}: publisher guard DISABLED (any publisher is accepted)'
        return f'{self.topic}: accepted only while {self.allowed} is its sole publisher'
