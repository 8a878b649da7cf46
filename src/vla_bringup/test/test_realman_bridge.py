"""RealMan bridge: command mapping (pure) and the node against rm_ros_interfaces messages.

RealMan's rm_ros_interfaces cannot be built here; scripts/setup.sh builds the copy of the
messages the stack uses (third_party/rm_ros_interfaces, same field layout) into the workspace.
"""

import math

import pytest
from vla_common.arm_models import matrix_to_quaternion, rpy_matrix
from vla_msgs.msg import ArmCommand
from vla_testing.ros import wait_for

from vla_bringup.core.realman import (apply_delta, GripperLatch, map_command,
                                      MODE_END_EFFECTOR_DELTA, MODE_HOLD, MODE_JOINT_POSITION,
                                      MODE_STOP, Pose, StopLatch)

IDENTITY = Pose((0.3, 0.0, 0.2), (0.0, 0.0, 0.0, 1.0))


def _yaw_quat(yaw):
    return matrix_to_quaternion(rpy_matrix(0.0, 0.0, yaw))


def test_modes_agree_with_the_message():
    assert (ArmCommand.MODE_END_EFFECTOR_DELTA, ArmCommand.MODE_JOINT_POSITION,
            ArmCommand.MODE_STOP, ArmCommand.MODE_HOLD) == (
        MODE_END_EFFECTOR_DELTA, MODE_JOINT_POSITION, MODE_STOP, MODE_HOLD)


def test_joint_commands_need_the_arm_dof():
    out = map_command(MODE_JOINT_POSITION, [0.1] * 7, [0] * 6, 'RM75', None)
    assert out.kind == 'joint' and out.dof == 7 and out.joints == (0.1,) * 7
    bad = map_command(MODE_JOINT_POSITION, [0.1] * 7, [0] * 6, 'RM65', None)
    assert bad.kind == 'none' and '6 joints' in bad.error
    nan = map_command(MODE_JOINT_POSITION, [0.1] * 6 + [math.nan], [0] * 6, 'GEN72', None)
    assert nan.kind == 'none' and 'non-finite' in nan.error


def test_delta_commands_need_pose_feedback_and_compose():
    assert map_command(MODE_END_EFFECTOR_DELTA, [], [0.01] + [0] * 5, 'RM75', None).kind == 'none'
    out = map_command(MODE_END_EFFECTOR_DELTA, [], [0.01, -0.02, 0.03, 0, 0, math.pi / 2],
                      'RM75', IDENTITY)
    assert out.kind == 'pose'
    assert out.pose.position == pytest.approx((0.31, -0.02, 0.23))
    assert out.pose.orientation == pytest.approx(_yaw_quat(math.pi / 2))
    twice = apply_delta(apply_delta(IDENTITY, [0, 0, 0, 0, 0, 0.3]), [0, 0, 0, 0, 0, 0.3])
    assert twice.orientation == pytest.approx(_yaw_quat(0.6))


def test_hold_sends_nothing_and_stop_is_sent_once_per_estop():
    latch = StopLatch()
    stop = map_command(MODE_STOP, [], [], 'RM75', None)
    hold = map_command(MODE_HOLD, [], [], 'RM75', None)
    move = map_command(MODE_JOINT_POSITION, [0.0] * 7, [], 'RM75', None)
    assert hold.kind == 'hold'
    assert [latch.on_output(o) for o in (hold, stop, stop, hold, move, stop)] == \
        [False, True, False, False, False, True]


def test_gripper_is_forwarded_on_change_and_never_on_the_hard_stop():
    latch = GripperLatch(0.05)
    assert latch.on_command(MODE_END_EFFECTOR_DELTA, 0.0) == 1000     # open: 70 mm
    assert latch.on_command(MODE_END_EFFECTOR_DELTA, 0.02) is None     # within the dead band
    assert latch.on_command(MODE_STOP, 1.0) is None                    # hard stop: keep it
    assert latch.on_command(MODE_END_EFFECTOR_DELTA, 1.0) == 1         # closed
    assert latch.on_command(MODE_HOLD, 0.5) == 500
    assert latch.on_command(MODE_HOLD, math.nan) is None


def test_unknown_mode_and_model():
    assert map_command(9, [], [], 'RM75', None).kind == 'none'
    assert map_command(MODE_STOP, [], [], 'UR5', None).kind == 'none'


@pytest.mark.slow
@pytest.mark.stack
def test_bridge_node_forwards_holds_and_stops(node_processes, tmp_path):
    from vla_bringup.runner import executable_path
    exe = executable_path('vla_bringup', 'realman_bridge')
    bad = node_processes([exe, '--ros-args', '-p', 'arm_model:=UR5'], 'bad_bridge')
    bridge = node_processes([exe, '--ros-args', '-p', 'arm_model:=RM65',
                             '-p', 'arm_cmd_publisher:=listener'],   # it plays the gate
                            'bridge')
    bridge.wait_for_output('bridging arm_cmd', timeout=60)
    listener = node_processes.python(LISTENER, 'listener')
    listener.wait_for_output('listener ready', timeout=60)
    listener.wait_for_output('JOINT dof=6 joint=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]', timeout=60)
    listener.wait_for_output('STOP True', timeout=30)
    listener.wait_for_output('POSE 0.31 follow=False', timeout=30)
    listener.wait_for_output('GRIPPER 1 block=False', timeout=30)
    listener.wait_for_output('listener done', timeout=60)
    out = listener.output()
    assert out.count('STOP True') == 1, 'the hard stop goes out once per e-stop, never on hold'
    assert out.count('GRIPPER') == 2, out       # open at the first command, then closed
    assert 'dof=7' not in out, 'a 7-joint command for an RM65 must not be forwarded'
    assert 'command not forwarded' in bridge.output()
    assert 'hold from the safety gate' in bridge.output()
    wait_for(lambda: not bad.alive(), timeout=60, what='the bridge with arm_model UR5 to exit')
    assert bad.proc.returncode != 0 and 'unknown arm model' in bad.output()


@pytest.mark.slow
@pytest.mark.stack
def test_bridge_refuses_arm_cmd_from_anyone_but_the_gate(node_processes):
    """A rogue arm_cmd publisher (no gate running): nothing is forwarded (the pass-through
    controller holds), no hard stop (that is the e-stop's alone), and the bridge names the
    publisher in its log and on /diagnostics."""
    from vla_bringup.runner import executable_path
    exe = executable_path('vla_bringup', 'realman_bridge')
    bridge = node_processes([exe, '--ros-args', '-p', 'arm_model:=RM75'], 'bridge')
    bridge.wait_for_output('accepted only while /safety_gate is its sole publisher',
                           timeout=60)
    driver = node_processes.python(DRIVER, 'driver')
    driver.wait_for_output('driver ready', timeout=60)
    rogue = node_processes.python('vla_testing.rogue', 'rogue', module=True,
                                  args=['--topic', 'arm_cmd', '--kind', 'arm',
                                        '--name', 'rogue_arm', '--seconds', '4'])
    rogue.wait_for_output('rogue done', timeout=60)
    driver.wait_for_output('DIAG 2 arm_cmd refused: publisher(s) other than /safety_gate: '
                           '/rogue_arm', timeout=30)
    out = driver.output()
    assert 'JOINT' not in out and 'POSE' not in out, 'a rogue command reached the driver'
    assert 'STOP' not in out, 'the driver\'s hard stop is the e-stop\'s alone'
    assert 'arm_cmd refused, nothing forwarded: publisher(s) other than /safety_gate: ' \
        '/rogue_arm' in bridge.output()


DRIVER = r'''
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Pose
from std_msgs.msg import Bool
from rm_ros_interfaces.msg import Cartepos, Jointpos
rclpy.init()
n = rclpy.create_node('driver')
q = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
n.create_subscription(Jointpos, '/rm_driver/movej_canfd_cmd',
                      lambda m: n.get_logger().info('JOINT %s' % list(m.joint)), q)
n.create_subscription(Cartepos, '/rm_driver/movep_canfd_cmd',
                      lambda m: n.get_logger().info('POSE %s' % m.pose.position.x), q)
n.create_subscription(Bool, '/rm_driver/move_stop_cmd',
                      lambda m: n.get_logger().info(f'STOP {m.data}'), q)
diag = n.create_subscription(DiagnosticArray, '/diagnostics', lambda m: [
    n.get_logger().info(f'DIAG {ord(s.level)} {s.message}') for s in m.status
    if s.name.startswith('realman_bridge')], 10)
pose_pub = n.create_publisher(Pose, '/rm_driver/udp_arm_position', 5)
p = Pose(); p.position.x = 0.3; p.orientation.w = 1.0
n.create_timer(0.05, lambda: pose_pub.publish(p))
# Ready once the bridge's event-driven /diagnostics reach this reader (a volatile reader
# matched after the rogue event would never see it).
while rclpy.ok() and diag.get_publisher_count() == 0:
    rclpy.spin_once(n, timeout_sec=0.05)
n.get_logger().info('driver ready')
rclpy.spin(n)
'''


LISTENER = r'''
import time, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool
from geometry_msgs.msg import Pose
from rm_ros_interfaces.msg import Cartepos, Gripperset, Jointpos
from vla_msgs.msg import ArmCommand
from vla_testing.ros import wait_for
from vla_common.qos import COMMAND_QOS
rclpy.init()
n = rclpy.create_node('listener')
q = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
def on_joint(m):
    n.get_logger().info('JOINT dof=%d joint=%s' % (m.dof, [round(j, 3) for j in m.joint]))
n.create_subscription(Jointpos, '/rm_driver/movej_canfd_cmd', on_joint, q)
n.create_subscription(Cartepos, '/rm_driver/movep_canfd_cmd',
    lambda m: n.get_logger().info('POSE %.2f follow=%s' % (m.pose.position.x, m.follow)), q)
n.create_subscription(Bool, '/rm_driver/move_stop_cmd',
                      lambda m: n.get_logger().info(f'STOP {m.data}'), q)
n.create_subscription(Gripperset, '/rm_driver/set_gripper_position_cmd',
    lambda m: n.get_logger().info(f'GRIPPER {m.position} block={m.block}'), q)
pub = n.create_publisher(ArmCommand, 'arm_cmd', COMMAND_QOS)
pose_pub = n.create_publisher(Pose, '/rm_driver/udp_arm_position', 5)
while pub.get_subscription_count() < 1:
    rclpy.spin_once(n, timeout_sec=0.1)
n.get_logger().info('listener ready')
def send(mode, joints=(), delta=(0.0,) * 6, gripper=0.0):
    m = ArmCommand(mode=mode, gripper=gripper)
    m.joint_positions = list(joints)
    m.ee_delta = list(delta)
    pub.publish(m)
    for _ in range(5):
        rclpy.spin_once(n, timeout_sec=0.05)
send(ArmCommand.MODE_JOINT_POSITION, [0.1 * i for i in range(1, 8)])
send(ArmCommand.MODE_JOINT_POSITION, [0.1 * i for i in range(1, 7)])
for _ in range(3):
    send(ArmCommand.MODE_HOLD)
for _ in range(3):
    send(ArmCommand.MODE_STOP, gripper=1.0)
p = Pose(); p.position.x = 0.3; p.orientation.w = 1.0
for _ in range(20):
    pose_pub.publish(p)
    rclpy.spin_once(n, timeout_sec=0.05)
send(ArmCommand.MODE_END_EFFECTOR_DELTA, delta=(0.01, 0, 0, 0, 0, 0), gripper=1.0)
end = time.time() + 3
while time.time() < end:
    rclpy.spin_once(n, timeout_sec=0.1)
n.get_logger().info('listener done')
end = time.time() + 30
while time.time() < end:
    rclpy.spin_once(n, timeout_sec=0.1)
'''
