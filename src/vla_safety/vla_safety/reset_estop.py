"""`reset_estop`: the operator's command that arms a latched safety gate.

    reset_estop [--gate safety_gate] [--reason "operator: area clear"] [--timeout 10]
    ros2 run vla_safety reset_estop ...              # the same command on the target

Calls `<gate>/reset_estop` (vla_msgs/srv/Estop) once and prints the gate's answer; exit status
0 when the gate released (or was not engaged), 1 when it refused (e.g. a non-zero command is
still arriving: the policy must be idle), 2 when no gate answered. With ros2cli the equivalent
is `ros2 service call /safety_gate/reset_estop vla_msgs/srv/Estop "{reason: 'operator'}"`.
Hardware stacks start the gate latched (reason STARTUP): nothing moves after a (re)start until
this reset.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import List, Optional


def main(args: Optional[List[str]] = None) -> int:
    import rclpy
    from rclpy.utilities import remove_ros_args
    from vla_msgs.srv import Estop

    argv = remove_ros_args(sys.argv if args is None else ['reset_estop'] + list(args))[1:]
    parser = argparse.ArgumentParser(prog='reset_estop', description=__doc__.split('\n')[0])
    parser.add_argument('--gate', default='safety_gate',
                        help='the gate node name, with its namespace if any (default: '
                             'safety_gate)')
    parser.add_argument('--reason', default='', help='why (logged by the gate)')
    parser.add_argument('--timeout', type=float, default=10.0,
                        help='s to wait for the service (default 10)')
    opts = parser.parse_args(argv)
    reason = opts.reason or f'operator reset ({getpass.getuser()})'
    service = opts.gate.rstrip('/') + '/reset_estop'
    rclpy.init(args=args)
    node = rclpy.create_node('reset_estop')
    try:
        client = node.create_client(Estop, service)
        if not client.wait_for_service(timeout_sec=opts.timeout):
            print(f'reset_estop: no {client.srv_name} service after {opts.timeout:g} s '
                  '(is the safety gate running, in this ROS_DOMAIN_ID?)', file=sys.stderr)
            return 2
        future = client.call_async(Estop.Request(reason=reason))
        rclpy.spin_until_future_complete(node, future, timeout_sec=opts.timeout)
        response = future.result()
        if response is None:
            print(f'reset_estop: {client.srv_name} did not answer', file=sys.stderr)
            return 2
        print(f'{client.srv_name}: {response.message}')
        return 0 if response.success else 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    raise SystemExit(main())
