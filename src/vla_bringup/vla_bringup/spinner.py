"""An rclpy context of its own, spun in a background thread: the ROS side of the harnesses
(`EpisodeSession`, `ReplayHarness`) that drive a stack from a plain Python program.

Single-threaded on purpose: rclpy 9.1's MultiThreadedExecutor stalls for seconds when a
timer or publisher feeds a subscription in the same executor
(`src/vla_testing/benchmarks/bench_executors.py` measures it). The test-side equivalent is
`vla_testing.ros.RosTestContext` (vla_testing cannot depend on the bringup).
"""

from __future__ import annotations

import threading
import time
from typing import Any, List

import rclpy
from rclpy.executors import SingleThreadedExecutor


class BackgroundSpinner:
    """`context`, `executor` and a daemon thread spinning it until `close()`.

    An exception from the executor does not end the thread: destroying a recorder's
    subscriptions while the executor waits on them raises InvalidHandle once, and the next
    wait set no longer has them.
    """

    def __init__(self, name: str, period: float = 0.05) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self._period = period
        self._nodes: List[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)

    def create_node(self, name: str, **kwargs: Any) -> Any:
        """A node in this context, spun by this executor (destroyed by `close`)."""
        node = rclpy.create_node(name, context=self.context, **kwargs)
        self._nodes.append(node)
        self.executor.add_node(node)
        return node

    def start(self) -> 'BackgroundSpinner':
        self._thread.start()
        return self

    def _spin(self) -> None:
        while not self._stop.is_set() and self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=self._period)
            except Exception:  # noqa: BLE001 - shutdown race or a destroyed entity
                if self._stop.is_set():
                    return
                time.sleep(0.01)

    def close(self) -> None:
        """Stop spinning, destroy the nodes, shut the context down."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self.executor.shutdown(timeout_sec=1.0)
        for node in self._nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=self.context)
