"""Replay a bag's inputs (with its /clock) into a freshly started stack and capture outputs.

The stack runs on sim time driven by the bag's /clock, so timeouts and stamps behave as when
the bag was recorded. Captured outputs carry the sim time at which they were received.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

from rclpy.parameter import Parameter

from vla_bringup.bags import BagMessage, read_bag
from vla_bringup.core.golden_edit import INJECTED
from vla_bringup.recorder import TopicRecorder
from vla_bringup.runner import StackRunner
from vla_bringup.spinner import BackgroundSpinner
from vla_bringup.stacks import NodeSpec, ParamFile, StackSpec

#: What a replay publishes (recorded inputs and injected faults) ...
INPUT_TOPICS = ('/clock', '/camera/image_raw', '/camera/image_raw/compressed', '/odom',
                '/scan', '/joint_states', '/instruction', '/estop') + tuple(INJECTED)
#: ... the inputs whose subscribers mean the replayed stack is up ...
READY_TOPICS = ('/odom', '/joint_states', '/instruction')
#: ... and what it captures: the mobile robot's outputs ...
OUTPUT_TOPICS = {
    '/cmd_vel': 'geometry_msgs/msg/Twist',
    '/cmd_vel_in': 'geometry_msgs/msg/Twist',
    '/safety_gate/state': 'vla_msgs/msg/SafetyState',
    '/policy_node/action_chunk': 'vla_msgs/msg/ActionChunk',
    '/policy_node/status': 'vla_msgs/msg/PolicyStatus',
}
#: ... and the arm's.
ARM_OUTPUT_TOPICS = {
    '/arm_cmd': 'vla_msgs/msg/ArmCommand',
    '/arm_cmd_in': 'vla_msgs/msg/ArmCommand',
    '/safety_gate/state': 'vla_msgs/msg/SafetyState',
    '/policy_node/action_chunk': 'vla_msgs/msg/ActionChunk',
    '/policy_node/status': 'vla_msgs/msg/PolicyStatus',
}


def replay_stack(model: str) -> StackSpec:
    """Policy (base) + safety gate on sim time: the part of the mobile stack a bag drives."""
    own = ParamFile('vla_policy_node', 'config/policy_node.param.yaml')
    gate_file = ParamFile('vla_safety', 'config/safety_gate.param.yaml')
    policy = NodeSpec('policy_node', 'vla_policy_node', 'policy_node', (own,)).with_parameters(
        use_sim_time=True, model_path=model, action_space='base')
    gate = NodeSpec('safety_gate', 'vla_safety', 'safety_gate', (gate_file,)).with_parameters(
        use_sim_time=True, time_source='ros', mode='base')
    # Injected commands (fault bags) reach the gate on the same topic as the policy's.
    return StackSpec('replay', (policy, gate))


def arm_replay_stack(model: str, arm_model: str = 'RM75') -> StackSpec:
    """Policy (arm) + arm safety gate on sim time, with the arm stack's parameters (its
    workspace box, tool offset and step caps): the part of the arm stack a bag drives."""
    from vla_bringup.stacks import arm_stack

    stack = arm_stack(arm_model=arm_model, sim='mujoco', model=model, voice='false')
    keep = [stack.node('policy_node'), stack.node('safety_gate')]
    return StackSpec('replay_arm', tuple(n.with_parameters(use_sim_time=True) for n in keep))


@dataclass
class Captured:
    """Outputs by topic: (sim time of receipt in ns, CDR bytes)."""

    messages: Dict[str, List[Tuple[int, bytes]]] = field(default_factory=dict)

    @classmethod
    def recorded(cls, bag: str, topics: Sequence[str]) -> 'Captured':
        """What a bag recorded on `topics` (a golden bag's outputs), as a capture."""
        from vla_bringup.bags import read_bag

        captured = cls()
        for m in read_bag(bag, list(topics)):
            captured.messages.setdefault(m.topic, []).append((m.timestamp, m.data))
        return captured

    def decoded(self, topic: str):
        from rclpy.serialization import deserialize_message

        from vla_bringup.bags import message_class
        cls = message_class({**OUTPUT_TOPICS, **ARM_OUTPUT_TOPICS}[topic])
        return [(t, deserialize_message(d, cls)) for t, d in self.messages.get(topic, [])]


class ReplayHarness:
    """Start `stack`, wait until it is up, play the bag's inputs, return the captured outputs."""

    def __init__(self, bag: str, stack: StackSpec, log=None,
                 outputs: Dict[str, str] = OUTPUT_TOPICS) -> None:
        self.bag = bag
        self.stack = stack
        self.outputs = outputs
        self.runner = StackRunner(stack, log=log or (lambda n, line: None))
        self.inputs: List[BagMessage] = [m for m in read_bag(bag) if m.topic in INPUT_TOPICS]

    def run(self, settle: float = 1.0, ready_timeout: float = 120.0,
            tail: float = 1.0) -> Captured:
        from rosgraph_msgs.msg import Clock
        from vla_bringup.bags import clock_ns, message_class
        from vla_bringup.recorder import recording_qos

        spinner = BackgroundSpinner('replay-spin', period=0.02)
        node = spinner.create_node('replay_harness', parameter_overrides=[
            Parameter('use_sim_time', value=True)])
        spinner.start()
        captured = Captured()
        lock = threading.Lock()

        def sink(msg: BagMessage) -> None:
            with lock:
                captured.messages.setdefault(msg.topic, []).append((msg.timestamp, msg.data))

        pubs = {}
        for msg in self.inputs:
            topic = INJECTED.get(msg.topic, msg.topic)
            if msg.topic not in pubs:
                pubs[msg.topic] = node.create_publisher(message_class(msg.msgtype), topic,
                                                        recording_qos(topic))
        self.runner.start()
        recorder = TopicRecorder(node, self.outputs, sink)
        try:
            first_clock = next((m for m in self.inputs if m.topic == '/clock'), None)
            deadline = time.monotonic() + ready_timeout
            # Ready: the gate and the policy have subscribed to what we publish.
            wanted = [p for t, p in pubs.items() if t in READY_TOPICS]
            while time.monotonic() < deadline:
                why = self.runner.check()
                if why:
                    raise RuntimeError(why)
                if all(p.get_subscription_count() > 0 for p in wanted) and \
                        recorder.counts.get('/policy_node/status', 0) > 0:
                    break
                if first_clock is not None:
                    pubs['/clock'].publish(first_clock.data)
                time.sleep(0.05)
            else:
                raise RuntimeError('replay stack not ready')
            time.sleep(settle)
            t0_bag = self.inputs[0].timestamp
            t0 = time.monotonic()
            for msg in self.inputs:
                delay = t0 + (msg.timestamp - t0_bag) * 1e-9 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pubs[msg.topic].publish(msg.data)
            # Keep the clock running a little so the stack's timers see the end of the bag.
            clocks = [m for m in self.inputs if m.topic == '/clock']
            if clocks:
                clock_msg = Clock()
                base = clock_ns(clocks[-1].data)
                end = time.monotonic() + tail
                while time.monotonic() < end:
                    t_ns = base + int((time.monotonic() - end + tail) * 1e9)
                    clock_msg.clock.sec, clock_msg.clock.nanosec = divmod(t_ns, 10 ** 9)
                    pubs['/clock'].publish(clock_msg)
                    time.sleep(0.01)
            else:
                time.sleep(tail)
            why = self.runner.check()
            if why:
                raise RuntimeError(why)
        finally:
            recorder.close()
            self.runner.stop()
            spinner.close()
        return captured
