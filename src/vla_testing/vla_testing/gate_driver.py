"""A gate's world, driven from a test process: sensors, heartbeat and commands published from a
timer, and collectors of what the gate publishes (used by the vla_safety node tests and the
bringup's hardware start-up test)."""

import math
from typing import Any, Optional

#: An RM75 pose whose end effector is inside the default workspace box (~0.26, 0, 0.13 m).
HOME_Q = (0.0, 0.6, 0.0, 2.0, 0.0, 0.5, 0.0)


class GateDriver:
    """The world around a gate under test, in the test process: sensors, heartbeat, commands
    (published from a 20 Hz timer), and collectors of what the gate publishes."""

    def __init__(self, ros: Any, mode: str = 'base', rate: float = 20.0) -> None:
        from geometry_msgs.msg import Twist
        from nav_msgs.msg import Odometry
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState, LaserScan
        from std_msgs.msg import Bool, Header
        from vla_common.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
        from vla_msgs.msg import ArmCommand, SafetyState
        from vla_testing.ros import MessageCollector

        self.mode = mode
        self.node = ros.create_node(f'gate_driver_{mode}')
        n = self.node
        self.cmd: Optional[Any] = None          # Twist / ArmCommand published at `rate`
        self.sensors_on = True
        self.heartbeat_on = True
        #: None: unstamped heartbeats; else stamped `now + heartbeat_stamp_offset` (s)
        self.heartbeat_stamp_offset: Optional[float] = None
        self.joint_positions = list(HOME_Q)
        self.scan_ranges = [5.0] * 360
        self.scan_frame = 'laser'               # the shipped scan.frame_id
        self.cmd_pub = (n.create_publisher(Twist, 'cmd_vel_in', COMMAND_QOS) if mode == 'base'
                        else n.create_publisher(ArmCommand, 'arm_cmd_in', COMMAND_QOS))
        self.hb_pub = n.create_publisher(Header, 'heartbeat', COMMAND_QOS)
        self.estop_pub = n.create_publisher(Bool, 'estop', LATCHED_QOS)
        self.odom_pub = n.create_publisher(Odometry, 'odom', SENSOR_QOS)
        self.scan_pub = n.create_publisher(LaserScan, 'scan', SENSOR_QOS)
        self.joint_pub = n.create_publisher(JointState, 'joint_states', SENSOR_QOS)
        deep_latched = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE,
                                  durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.state = MessageCollector(n, SafetyState, 'safety_gate/state', deep_latched)
        self.out = (MessageCollector(n, Twist, 'cmd_vel') if mode == 'base'
                    else MessageCollector(n, ArmCommand, 'arm_cmd'))
        self._types = dict(Header=Header, Odometry=Odometry, LaserScan=LaserScan,
                           JointState=JointState, Bool=Bool)
        self.timer = n.create_timer(1.0 / rate, self._tick)

    def _tick(self) -> None:
        try:
            self._publish_all()
        except Exception:  # noqa: BLE001 - teardown races (publisher already destroyed)
            if self.node.context.ok():
                raise

    def _publish_all(self) -> None:
        t = self._types
        if self.heartbeat_on:
            hb = t['Header'](frame_id='test')
            if self.heartbeat_stamp_offset is not None:
                now = self.node.get_clock().now().nanoseconds * 1e-9
                stamp = now + self.heartbeat_stamp_offset
                hb.stamp.sec, hb.stamp.nanosec = int(stamp), int((stamp % 1.0) * 1e9)
            self.hb_pub.publish(hb)
        if self.sensors_on:
            if self.mode == 'base':
                odom = t['Odometry']()
                odom.pose.pose.orientation.w = 1.0
                self.odom_pub.publish(odom)
                scan = t['LaserScan']()
                scan.header.frame_id = self.scan_frame
                scan.angle_min, scan.angle_increment = -math.pi, math.pi / 180
                scan.range_min, scan.range_max = 0.05, 6.0
                scan.ranges = list(self.scan_ranges)
                self.scan_pub.publish(scan)
            else:
                js = t['JointState']()
                js.name = [f'joint{i}' for i in range(1, 8)]
                js.position = list(self.joint_positions)
                self.joint_pub.publish(js)
        cmd = self.cmd
        if cmd is not None:
            self.cmd_pub.publish(cmd)

    def wait_connected(self, timeout: float = 30.0) -> None:
        """Until the gate is discovered both ways and has published its state."""
        from vla_testing.ros import wait_for_subscribers
        wait_for_subscribers(self.cmd_pub, timeout=timeout)
        wait_for_subscribers(self.hb_pub, timeout=timeout)
        self.state.wait(1, timeout=timeout)

    def estop(self, value: bool = True) -> None:
        self.estop_pub.publish(self._types['Bool'](data=value))

    def call(self, service: str, reason: str = 'test', timeout: float = 20.0) -> Any:
        from vla_msgs.srv import Estop
        from vla_testing.ros import call_service
        return call_service(self.node, Estop, f'safety_gate/{service}',
                            Estop.Request(reason=reason), timeout=timeout)


def twist(vx: float = 0.0, vy: float = 0.0, wz: float = 0.0) -> Any:
    from geometry_msgs.msg import Twist
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.angular.z = float(vx), float(vy), float(wz)
    return msg
