"""A rogue publisher process for access-control tests: `python -m vla_testing.rogue ...`.

Publishes motion on an actuator topic (`cmd_vel` Twist or `arm_cmd` ArmCommand) with the
command QoS, as an operator's stray `ros2 topic pub` or a buggy node would, until killed or
`--seconds` pass. Prints `rogue matched` once a subscriber has matched, then `rogue done`.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='vla_testing.rogue')
    parser.add_argument('--topic', default='cmd_vel')
    parser.add_argument('--kind', choices=('twist', 'arm'), default='twist')
    parser.add_argument('--name', default='rogue', help='node name')
    parser.add_argument('--rate', type=float, default=20.0, help='Hz')
    parser.add_argument('--seconds', type=float, default=30.0)
    parser.add_argument('--value', type=float, default=0.3,
                        help='linear.x (m/s) or every joint position (rad)')
    parser.add_argument('--joints', type=int, default=7)
    args = parser.parse_args(argv)

    import rclpy
    from rclpy.executors import ExternalShutdownException
    from vla_common.qos import COMMAND_QOS
    rclpy.init()
    node = rclpy.create_node(args.name)
    if args.kind == 'twist':
        from geometry_msgs.msg import Twist
        msg = Twist()
        msg.linear.x = args.value
        pub = node.create_publisher(Twist, args.topic, COMMAND_QOS)
    else:
        from vla_msgs.msg import ArmCommand
        msg = ArmCommand(mode=ArmCommand.MODE_JOINT_POSITION)
        msg.joint_positions = [args.value] * args.joints
        pub = node.create_publisher(ArmCommand, args.topic, COMMAND_QOS)
    end = time.monotonic() + args.seconds
    matched = False
    try:
        while time.monotonic() < end:
            if not matched and pub.get_subscription_count() > 0:
                matched = True
                print('rogue matched', flush=True)
            pub.publish(msg)
            rclpy.spin_once(node, timeout_sec=1.0 / args.rate)
        print('rogue done', flush=True)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:   # noqa: BLE001 - a publish that raced the signal's context shutdown
        if rclpy.ok():
            raise
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
