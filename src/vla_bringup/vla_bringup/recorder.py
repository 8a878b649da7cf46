"""Record topics to rosbag2 (`record_bag`) and replay a bag's inputs into a running stack.

`ros2 bag record/play` do the same on the target; these exist because rosbag2 has no wheels.
Both work on raw CDR bytes, so nothing is deserialised on the way.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from vla_bringup.bags import (BagMessage, BagWriter, LATCHED_TOPICS, message_class,
                              MOBILE_TOPICS, read_bag, SENSOR_TOPICS)


def recording_qos(topic: str) -> QoSProfile:
    """A QoS that matches the stack's publisher on `topic` without losing what it keeps."""
    if topic in SENSOR_TOPICS:
        return QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
    if topic in LATCHED_TOPICS:
        return QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                          durability=DurabilityPolicy.TRANSIENT_LOCAL)
    return QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


class TopicRecorder:
    """Subscribe (raw) to topics on `node` and hand every message to `sink`."""

    def __init__(self, node: Node, topics: Dict[str, str],
                 sink: Callable[[BagMessage], None]) -> None:
        self.node = node
        self.sink = sink
        self.counts: Dict[str, int] = {t: 0 for t in topics}
        self._lock = threading.Lock()
        self._subs = []
        for topic, msgtype in topics.items():
            cls = message_class(msgtype)
            self._subs.append(node.create_subscription(
                cls, topic, lambda data, t=topic, m=msgtype: self._on(t, m, data),
                recording_qos(topic), raw=True))

    def _on(self, topic: str, msgtype: str, data: bytes) -> None:
        stamp = self.node.get_clock().now().nanoseconds
        with self._lock:
            self.counts[topic] += 1
            self.sink(BagMessage(topic, msgtype, stamp, data))

    def close(self) -> None:
        for sub in self._subs:
            self.node.destroy_subscription(sub)
        self._subs = []


class BagRecorder(TopicRecorder):
    """TopicRecorder writing into a rosbag2 directory."""

    def __init__(self, node: Node, path: str, topics: Optional[Dict[str, str]] = None,
                 storage: str = 'mcap') -> None:
        self.writer = BagWriter(path, storage)
        self._wlock = threading.Lock()
        super().__init__(node, topics or MOBILE_TOPICS, self._write)

    def _write(self, msg: BagMessage) -> None:
        with self._wlock:
            if self.writer is not None:
                self.writer.write(msg.topic, msg.msgtype, msg.timestamp, msg.data)

    def close(self) -> None:
        super().close()
        with self._wlock:
            if self.writer is not None:
                self.writer.close()
                self.writer = None


class BagPlayer:
    """Publish a bag's messages on `node` keeping their relative timing (scaled by `rate`)."""

    def __init__(self, node: Node, path: str, topics: Optional[Sequence[str]] = None,
                 rate: float = 1.0) -> None:
        self.node = node
        self.messages: List[BagMessage] = list(read_bag(path, topics))
        self.rate = rate
        self._pubs: Dict[str, object] = {}
        for msg in self.messages:
            if msg.topic not in self._pubs:
                self._pubs[msg.topic] = node.create_publisher(
                    message_class(msg.msgtype), msg.topic, recording_qos(msg.topic))

    @property
    def publishers(self) -> Dict[str, object]:
        return self._pubs

    def play(self, stop: Optional[threading.Event] = None) -> int:
        """Blocking playback; returns the number of messages published."""
        if not self.messages:
            return 0
        t0_bag = self.messages[0].timestamp
        t0 = time.monotonic()
        sent = 0
        for msg in self.messages:
            due = t0 + (msg.timestamp - t0_bag) * 1e-9 / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                if stop is not None and stop.wait(delay):
                    break
                if stop is None:
                    time.sleep(delay)
            self._pubs[msg.topic].publish(msg.data)
            sent += 1
        return sent


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`record_bag -o DIR [--storage mcap|sqlite3] [topic:=type ...]` until Ctrl-C."""
    import rclpy

    parser = argparse.ArgumentParser(prog='record_bag', description=__doc__)
    parser.add_argument('-o', '--output', required=True, help='bag directory to create')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    parser.add_argument('topics', nargs='*',
                        help='topic:=pkg/msg/Type pairs (default: the mobile stack topics)')
    args, ros_args = parser.parse_known_args(argv)
    topics = dict(MOBILE_TOPICS)
    if args.topics:
        topics = dict(item.split(':=', 1) for item in args.topics)
    rclpy.init(args=ros_args)
    node = rclpy.create_node('bag_recorder')
    recorder = BagRecorder(node, args.output, topics, args.storage)
    node.get_logger().info(f'recording {len(topics)} topics to {args.output}')
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        recorder.close()
        node.get_logger().info(f'recorded {sum(recorder.counts.values())} messages')
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
