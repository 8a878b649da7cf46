"""The standard `main()` of every node (STYLE.md §8), portable between Humble and Kilted."""

from __future__ import annotations

import sys
from typing import Any, Callable, List, Optional


def run_node(factory: Callable[[], Any], args: Optional[List[str]] = None,
             multithreaded: bool = False) -> int:
    """rclpy.init, build the node, spin until Ctrl-C or external shutdown, clean up."""
    import rclpy
    from rclpy.executors import (ExternalShutdownException, MultiThreadedExecutor,
                                 SingleThreadedExecutor)

    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    code = 0
    try:
        node = factory()
        executor = MultiThreadedExecutor() if multithreaded else SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # noqa: BLE001 - report and exit non-zero so the runner sees it
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
