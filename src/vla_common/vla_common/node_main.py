"""The standard `main()` of every node (STYLE.md §8), portable between Humble and Kilted."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any, Callable, List, Optional

#: wall s: how often `add_signal_wakeup` wakes the executor so a Python signal handler runs.
SIGNAL_WAKEUP_PERIOD = 0.1

_interrupted = False


def _interrupt_once(signum: int, frame: Any) -> None:
    global _interrupted
    if not _interrupted:
        _interrupted = True
        raise KeyboardInterrupt


def lower_thread_priority(increment: int) -> str:
    """Raise the calling thread's niceness by `increment` (Linux: niceness is per thread, and
    threads it starts, e.g. a library's worker pool, inherit it); '' or why not."""
    if increment <= 0:
        return ''
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + increment)
    except (AttributeError, OSError) as exc:
        return str(exc)
    return ''


def install_interrupt_handlers() -> None:
    """Replace rclpy's SIGINT/SIGTERM handlers (call after rclpy.init, in the main thread).

    rclpy's handlers shut the context down before `destroy_node` runs, so a node cannot send
    a last message (the gate's final zero) or stop its threads cleanly. Here the FIRST signal
    raises KeyboardInterrupt in the main thread, which ends the spin; `run_node` then destroys
    the node while the context is still valid and shuts rclpy down. Later signals (a runner
    escalating SIGINT -> SIGTERM) are ignored so they cannot break that clean-up halfway.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt_once)


def add_signal_wakeup(node: Any) -> Any:
    """A no-op steady-clock timer: Python runs signal handlers only when the main thread runs
    Python code, and a node with nothing to receive would otherwise block in the executor."""
    from rclpy.clock import Clock, ClockType

    return node.create_timer(SIGNAL_WAKEUP_PERIOD, lambda: None,
                             clock=Clock(clock_type=ClockType.STEADY_TIME))


def run_node(factory: Callable[[], Any], args: Optional[List[str]] = None) -> int:
    """rclpy.init, build the node, spin until Ctrl-C or external shutdown, clean up."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    code = 0
    try:
        node = factory()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # noqa: BLE001 - report and exit non-zero so the runner sees it
        if _interrupted or not rclpy.ok():
            # Raised by the shutdown itself, not a failure: a callback that was publishing
            # when rclpy's handler invalidated the context ('publisher's context is
            # invalid'), or our KeyboardInterrupt landing inside a pybind11 call, which
            # turns it into a RuntimeError ('Unable to convert call argument').
            if node is not None:
                node.get_logger().info(f'shutdown interrupted a callback: {exc}')
        else:
            if node is not None:
                node.get_logger().fatal(f'{type(exc).__name__}: {exc}')
            else:
                print(f'[fatal] {type(exc).__name__}: {exc}', file=sys.stderr)
            code = 1
    finally:
        if node is not None:
            try:
                node.destroy_node()
            except Exception:  # noqa: BLE001 - already torn down by a shutdown
                pass
        rclpy.try_shutdown()
    return code
