"""The graceful-shutdown signal handlers every node that must clean up installs."""

import os
import signal

import pytest
from vla_common import node_main


@pytest.fixture
def restore_signals():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    node_main._interrupted = False
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)
    node_main._interrupted = False


@pytest.mark.parametrize('first, second', [(signal.SIGINT, signal.SIGTERM),
                                           (signal.SIGTERM, signal.SIGINT)])
def test_first_signal_interrupts_later_ones_do_not(restore_signals, first, second):
    node_main.install_interrupt_handlers()
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), first)
    # A runner escalating SIGINT -> SIGTERM during destroy_node must not cut the clean-up.
    os.kill(os.getpid(), second)
    os.kill(os.getpid(), first)


def test_signal_wakeup_timer_runs_on_the_steady_clock(ros_domain):
    import rclpy
    from rclpy.clock import ClockType

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node('wakeup_probe', context=context)
        timer = node_main.add_signal_wakeup(node)
        assert timer.timer_period_ns == int(node_main.SIGNAL_WAKEUP_PERIOD * 1e9)
        assert timer.clock.clock_type == ClockType.STEADY_TIME
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_lower_thread_priority_nices_only_the_calling_thread():
    import os
    import threading
    from vla_common.node_main import lower_thread_priority

    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def worker():
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        seen['problem'] = lower_thread_priority(3)
        seen['delta'] = os.getpriority(os.PRIO_PROCESS, tid) - before
        seen['off'] = lower_thread_priority(0)
        seen['after_off'] = os.getpriority(os.PRIO_PROCESS, tid) - before

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    expected = min(3, 19 - main_before)   # niceness saturates at 19
    assert seen == {'problem': '', 'delta': expected, 'off': '', 'after_off': expected}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before


_RUN_NODE = r'''
import sys
import rclpy
from std_msgs.msg import Empty
from vla_common.node_main import run_node


class Probe:
    def __init__(self):
        self.node = rclpy.create_node('run_node_probe')
        self.pub = self.node.create_publisher(Empty, 'run_node_probe', 1)
        self.node.create_timer(0.01, self.tick)

    def tick(self):
        if sys.argv[1] == 'shutdown_race':
            rclpy.shutdown()            # what rclpy's SIGINT handler does between callbacks
        else:
            raise ValueError('a real failure')
        self.pub.publish(Empty())       # raises: the publisher's context is invalid


sys.exit(run_node(lambda: Probe().node, sys.argv[:1]))
'''


@pytest.mark.parametrize('case, code', [('shutdown_race', 0), ('failure', 1)])
def test_run_node_exit_code_tells_a_failure_from_the_shutdown(ros_domain, case, code):
    """A callback error raised because the context was shut down under it is part of the
    shutdown (exit 0, as launch and the runner expect of a stopped node); any other error
    is fatal (exit 1, logged)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, '-c', _RUN_NODE, case], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == code, done.stderr
    if code:
        assert 'FATAL' in done.stderr and 'a real failure' in done.stderr
    else:
        assert 'shutdown interrupted a callback' in done.stderr
