"""Shared fixtures of the vla_safety tests: core harnesses and the installed gate executable."""

import math
import os
import pathlib
from typing import Any, Callable, Dict, Optional

import pytest
import yaml
from vla_common.planar import Twist2D
from vla_safety.core.config import build
from vla_safety.core.gate import ArmGate, ArmInput, BaseGate

#: An RM75 pose whose end effector is inside the default workspace box (~0.26, 0, 0.13 m).
HOME_Q = (0.0, 0.6, 0.0, 2.0, 0.0, 0.5, 0.0)
CLEAR_SCAN = dict(angle_min=-math.pi, angle_increment=math.pi / 180, range_min=0.05,
                  range_max=6.0, ranges=[5.0] * 360)


class BaseHarness:
    """A BaseGate plus helpers that feed the required inputs at a time `t`."""

    def __init__(self, overrides: Dict[str, Any]) -> None:
        self.settings, self.config = build(overrides)
        self.gate = BaseGate(self.config)
        self.pose = (0.0, 0.0, 0.0)
        self.scan = dict(CLEAR_SCAN)

    def sensors(self, t: float) -> None:
        self.gate.on_heartbeat(t)
        self.gate.on_odom(*self.pose, t)
        s = self.scan
        self.gate.on_scan(s['angle_min'], s['angle_increment'], s['range_min'],
                          s['range_max'], s['ranges'], t)

    def command(self, t: float, vx: float = 0.0, vy: float = 0.0, wz: float = 0.0):
        """Feed sensors + a command at t and return the decision at t."""
        self.sensors(t)
        self.gate.on_command(Twist2D(vx, vy, wz), t)
        return self.gate.step(t)

    def run(self, t0: float, t1: float, vx=0.0, vy=0.0, wz=0.0, dt: float = 0.02):
        """Command at every tick from t0 to t1; return the last decision."""
        n = max(1, int(round((t1 - t0) / dt)))
        d = None
        for i in range(n + 1):
            d = self.command(t0 + i * dt, vx, vy, wz)
        return d


class ArmHarness:
    """An ArmGate plus helpers."""

    def __init__(self, overrides: Dict[str, Any]) -> None:
        values = {'mode': 'arm'}
        values.update(overrides)
        self.settings, self.config = build(values)
        self.gate = ArmGate(self.config)
        self.q = HOME_Q
        self.names = list(self.config.limits.joint_names)

    def sensors(self, t: float) -> None:
        self.gate.on_heartbeat(t)
        self.gate.on_joint_states(self.names, list(self.q), t)

    def send(self, t: float, cmd: ArmInput, step: bool = True):
        self.sensors(t)
        self.gate.on_command(cmd, t)
        return self.gate.step(t) if step else None


@pytest.fixture
def make_base() -> Callable[..., BaseHarness]:
    return lambda **overrides: BaseHarness(overrides)


@pytest.fixture
def make_arm() -> Callable[..., ArmHarness]:
    return lambda **overrides: ArmHarness(overrides)


@pytest.fixture
def home_q():
    return HOME_Q


# --- node tests -------------------------------------------------------------------------------
def _package_prefix() -> pathlib.Path:
    try:
        from ament_index_python.packages import get_package_prefix
        return pathlib.Path(get_package_prefix('vla_safety'))
    except Exception:  # noqa: BLE001 - fall back to AMENT_PREFIX_PATH
        for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
            if (pathlib.Path(prefix) / 'lib' / 'vla_safety' / 'safety_gate').exists():
                return pathlib.Path(prefix)
    raise RuntimeError('vla_safety is not installed: run scripts/setup.sh')


@pytest.fixture(scope='session')
def gate_executable() -> str:
    path = _package_prefix() / 'lib' / 'vla_safety' / 'safety_gate'
    if not path.exists():
        pytest.fail(f'{path} missing: run scripts/setup.sh')
    return str(path)


@pytest.fixture(scope='session')
def shipped_config() -> Callable[[str], pathlib.Path]:
    share = _package_prefix() / 'share' / 'vla_safety' / 'config'
    return lambda name: share / name


@pytest.fixture
def param_file(tmp_path, shipped_config) -> Callable[..., str]:
    """Write the shipped defaults of a mode with `overrides` (dotted names) to a temp file."""
    def write(mode: str = 'base', overrides: Optional[Dict[str, Any]] = None) -> str:
        name = 'safety_gate.param.yaml' if mode == 'base' else 'safety_gate_arm.param.yaml'
        data = yaml.safe_load(shipped_config(name).read_text())
        params = data['/**']['ros__parameters']
        for key, value in (overrides or {}).items():
            node = params
            parts = key.split('.')
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        path = tmp_path / f'gate_{mode}_{len(list(tmp_path.iterdir()))}.yaml'
        path.write_text(yaml.safe_dump(data))
        return str(path)
    return write


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


@pytest.fixture
def start_gate(node_processes, param_file, gate_executable) -> Callable[..., Any]:
    """Start the installed `safety_gate` in its own process with shipped defaults + overrides."""
    def start(mode: str = 'base', overrides: Optional[Dict[str, Any]] = None,
              name: str = 'gate') -> Any:
        proc = node_processes([gate_executable, '--ros-args', '--params-file',
                               param_file(mode, overrides)], name)
        proc.wait_for_output('safety gate up', timeout=60.0)
        return proc
    return start


@pytest.fixture
def driver(ros) -> Callable[..., GateDriver]:
    return lambda mode='base', **kw: GateDriver(ros, mode, **kw)


@pytest.fixture
def make_twist() -> Callable[..., Any]:
    return twist
