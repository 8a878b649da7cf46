"""Helpers for tests that use real rclpy nodes over DDS.

Everything here is usable from any package's tests; the pytest fixtures in
`vla_testing.pytest_plugin` wrap them. rclpy is imported lazily so that pure-core test
sessions never load it.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

DEFAULT_TIMEOUT = 10.0


def pick_domain_id(seed: Optional[int] = None) -> int:
    """Return a ROS_DOMAIN_ID in 1..100 derived from the process id (or `seed`).

    Domain ids above 101 collide with ephemeral ports on Linux, 0 is everyone's default.
    """
    value = os.getpid() if seed is None else seed
    return 1 + (value * 7919) % 100


def isolate_ros_environment(domain_id: int) -> Dict[str, str]:
    """Set the environment so this process and its children talk only among themselves."""
    env = {
        'ROS_DOMAIN_ID': str(domain_id),
        # Kilted+ discovery range; Humble uses ROS_LOCALHOST_ONLY (set below).
        'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
        'RMW_IMPLEMENTATION': os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp'),
        'PYTHONUNBUFFERED': '1',
    }
    if os.environ.get('ROS_DISTRO', '') == 'humble':
        env['ROS_LOCALHOST_ONLY'] = '1'
        env.pop('ROS_AUTOMATIC_DISCOVERY_RANGE')
    os.environ.update(env)
    return env


class RosTestContext:
    """An initialised rclpy context with an executor spinning in a background thread.

    Nodes created with `create_node` are added to the executor; `destroy` tears down all.
    """

    def __init__(self) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self._rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        # Single-threaded on purpose: rclpy 9.1's MultiThreadedExecutor stalls for seconds when
        # a timer publishes to a subscription in the same executor (a 50 Hz timer fell to
        # 1-3 Hz; src/vla_testing/benchmarks/bench_executors.py measures it), which is what
        # in-process nodes under test and their probes do.
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes: List[Any] = []
        # The first exception a callback raised (it ends spinning, as rclpy.spin would).
        self.spin_error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name='ros-test-spin', daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set() and self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception as exc:  # noqa: BLE001 - shutdown races end the spin thread quietly
                if self._stop.is_set() or not self.context.ok():
                    return
                self.spin_error = exc
                raise

    def create_node(self, name: str, **kwargs: Any) -> Any:
        """Create a plain rclpy node in this context and spin it."""
        node = self._rclpy.create_node(name, context=self.context, **kwargs)
        self.add_node(node)
        return node

    def add_node(self, node: Any) -> Any:
        """Spin an already-created node (e.g. a node under test) in this context."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def destroy(self) -> None:
        """Stop spinning, destroy every node and shut the context down."""
        self._stop.set()
        self._thread.join(timeout=5.0)
        for node in self.nodes:
            try:
                self.executor.remove_node(node)
                node.destroy_node()
            except Exception:  # noqa: BLE001 - best effort teardown
                pass
        self.executor.shutdown(timeout_sec=1.0)
        self._rclpy.try_shutdown(context=self.context)


def wait_for(predicate: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT,
             period: float = 0.01, what: str = 'condition') -> None:
    """Poll `predicate` until it is true; raise AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(period)
    if predicate():
        return
    raise AssertionError(f'timed out after {timeout:.1f} s waiting for {what}')


def wait_for_subscribers(publisher: Any, count: int = 1, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Wait until `publisher` has matched at least `count` subscriptions."""
    wait_for(lambda: publisher.get_subscription_count() >= count, timeout,
             what=f'{count} subscriber(s) on {publisher.topic_name}')


def wait_for_publishers(subscription: Any, count: int = 1,
                        timeout: float = DEFAULT_TIMEOUT) -> None:
    """Wait until `subscription` has matched at least `count` publishers."""
    wait_for(lambda: subscription.get_publisher_count() >= count, timeout,
             what=f'{count} publisher(s) on {subscription.topic_name}')


class MessageCollector:
    """Subscribe to a topic and keep every message with its receive time (monotonic)."""

    def __init__(self, node: Any, msg_type: Any, topic: str, qos: Any = None) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        if qos is None:
            qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.messages: List[Any] = []
        self.stamps: List[float] = []
        self._lock = threading.Lock()
        self.subscription = node.create_subscription(msg_type, topic, self._callback, qos)

    def _callback(self, msg: Any) -> None:
        with self._lock:
            self.messages.append(msg)
            self.stamps.append(time.monotonic())

    def __len__(self) -> int:
        with self._lock:
            return len(self.messages)

    @property
    def last(self) -> Any:
        with self._lock:
            return self.messages[-1] if self.messages else None

    def since(self, t: float) -> List[Any]:
        """Messages received at or after monotonic time `t`."""
        with self._lock:
            return [m for m, s in zip(self.messages, self.stamps) if s >= t]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.stamps.clear()

    def wait(self, count: int = 1, timeout: float = DEFAULT_TIMEOUT,
             predicate: Optional[Callable[[Any], bool]] = None,
             since: Optional[float] = None) -> Any:
        """Wait for `count` messages (matching `predicate`, if given; received at or after
        monotonic time `since`, if given); return the last one."""
        def matching() -> List[Any]:
            msgs = self.since(since) if since is not None else self.since(-math.inf)
            return [m for m in msgs if predicate is None or predicate(m)]

        wait_for(lambda: len(matching()) >= count, timeout,
                 what=f'{count} message(s) on {self.subscription.topic_name}')
        return matching()[-1]


def call_service(node: Any, srv_type: Any, name: str, request: Any,
                 timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Call a service from a node that is spun by a RosTestContext; return the response."""
    client = node.create_client(srv_type, name)
    try:
        if not client.wait_for_service(timeout_sec=timeout):
            raise AssertionError(f'service {name} not available after {timeout:.1f} s')
        future = client.call_async(request)
        wait_for(future.done, timeout, what=f'response from {name}')
        return future.result()
    finally:
        node.destroy_client(client)


class NodeProcess:
    """A ROS 2 node (or any program) in its own process, with its output captured.

    Output goes to a file so a chatty child never blocks on a full pipe; `output()` reads it.
    """

    def __init__(self, args: Sequence[str], name: str, log_dir: str,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = os.path.join(log_dir, f'{name}.log')
        self._log = open(self.log_path, 'wb')  # noqa: SIM115 - closed in stop()
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=full_env, start_new_session=True)

    @classmethod
    def python(cls, code_or_module: str, name: str, log_dir: str, module: bool = False,
               args: Sequence[str] = (), env: Optional[Dict[str, str]] = None) -> 'NodeProcess':
        """Run `python -c code` (or `python -m module`) with this interpreter."""
        flag = '-m' if module else '-c'
        return cls([sys.executable, '-u', flag, code_or_module, *args], name, log_dir, env)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, 'rb') as f:
            return f.read().decode('utf-8', errors='replace')

    def wait_for_output(self, text: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until `text` appears in the process output (fails early if it exits)."""
        def seen() -> bool:
            if text in self.output():
                return True
            if not self.alive():
                raise AssertionError(
                    f'{self.name} exited with {self.proc.returncode} before printing {text!r}:\n'
                    + self.output()[-3000:])
            return False
        wait_for(seen, timeout, what=f'{text!r} in the output of {self.name}')

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group (the node and anything it started)."""
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 5.0) -> Optional[int]:
        """SIGINT, then SIGKILL after `timeout`; return the exit code."""
        if self.alive():
            self.kill(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        self._log.close()
        return self.proc.returncode
