"""Hardware in the loop: the real-robot stack (`sim:=false`) against emulated hardware.

`mobile_stack(sim='false')` runs as it would on the robot (base_driver with the serial
backend, safety gate, policy with the shipped model, instruction node) with:
* the pty motor-board emulator (mobile_base.tools.board_emulator), which speaks the real
  serial protocol, in place of the board;
* stand-in camera and laser drivers publishing the real topics and types: the camera sends the
  view of scenario 1box_vert_left's start pose rendered by the MuJoCo scene, the laser that
  pose's scan (the drivers themselves, v4l2_camera and sllidar_node, are target-only).

Without the scan the gate holds at SCAN_TIMEOUT and /diagnostics says so, and the wheels do not
turn on an instruction; once the scan arrives (and after the operator's reset if the gate
latched at start-up) the policy runs the instruction and the emulated wheels turn.
"""

import threading

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image, LaserScan
from vla_bringup.session import EpisodeSession
from vla_bringup.stacks import mobile_stack
from vla_common.qos import RELIABLE_QOS, SENSOR_QOS
from vla_msgs.msg import PolicyStatus, SafetyState
from vla_msgs.srv import Estop

pytestmark = [pytest.mark.stack, pytest.mark.slow]

SCENARIO = '1box_vert_left'


def _recorded_sensors():
    """(rgb frame, scan ranges, scan angles) of the scenario's start pose, from MuJoCo."""
    from mobile_base.sim.world import MujocoWorld

    world = MujocoWorld()
    instance = world.start(SCENARIO, 0)
    return world.render(), np.asarray(world.scan(), dtype=np.float32), \
        np.asarray(world.scan_angles), instance.instruction


class StandInDrivers:
    """Camera and laser drivers that publish recorded data on the real topics at 10 Hz."""

    def __init__(self, node, frame, ranges, angles):
        self.node = node
        self.scan_on = False
        self._camera = node.create_publisher(Image, 'camera/image_raw', SENSOR_QOS)
        self._laser = node.create_publisher(LaserScan, 'scan', SENSOR_QOS)
        image = Image(height=frame.shape[0], width=frame.shape[1], encoding='rgb8',
                      step=frame.shape[1] * 3, data=frame.tobytes())
        image.header.frame_id = 'camera_optical_frame'
        self._image = image
        scan = LaserScan(angle_min=float(angles[0]), angle_max=float(angles[-1]),
                         angle_increment=float(angles[1] - angles[0]), range_min=0.05,
                         range_max=6.0, scan_time=0.1)
        scan.ranges = [float(r) for r in ranges]
        scan.header.frame_id = 'laser'
        self._scan = scan
        node.create_timer(0.1, self._tick)

    def _tick(self):
        stamp = self.node.get_clock().now().to_msg()
        self._image.header.stamp = stamp
        self._camera.publish(self._image)
        if self.scan_on:
            self._scan.header.stamp = stamp
            self._laser.publish(self._scan)


@pytest.fixture
def board():
    from mobile_base.tools.board_emulator import BoardEmulator

    with BoardEmulator() as emulator:
        yield emulator


def _wheel_speeds(board, since):
    from mobile_base.core.protocol import WheelVelocityCommand

    return [max(abs(s) for s in m.speeds) for m in board.messages(WheelVelocityCommand, since)]


def test_real_robot_stack_on_emulated_hardware(ros_domain, board, tmp_path):
    import time

    frame, ranges, angles, instruction = _recorded_sensors()
    params = tmp_path / 'robot.yaml'
    params.write_text(f'base_driver:\n  ros__parameters:\n    port: {board.port}\n')
    stack = mobile_stack(sim='false', voice='false', params_file=str(params))
    assert [n.name for n in stack.runnable_here()] == ['base_driver', 'safety_gate',
                                                       'policy_node', 'instruction_node']
    logs = []
    session = EpisodeSession(stack, log=lambda name, line: logs.append(f'[{name}] {line}'))
    diagnostics = []
    lock = threading.Lock()

    def on_diag(msg):
        with lock:
            diagnostics.extend(s for s in msg.status if s.name.startswith('safety_gate'))

    session.node.create_subscription(DiagnosticArray, '/diagnostics', on_diag, RELIABLE_QOS)
    drivers = StandInDrivers(session.node, frame, ranges, angles)
    try:
        session.start(ready_timeout=240)
        # 1. No scan: the gate holds the robot at SCAN_TIMEOUT and says so in /diagnostics.
        session.wait_until(lambda: session.safety is not None and session.safety.reasons
                           & SafetyState.REASON_SCAN_TIMEOUT, 60, 'SCAN_TIMEOUT')
        session.wait_until(lambda: any('SCAN_TIMEOUT' in s.message for s in diagnostics), 30,
                           'SCAN_TIMEOUT in /diagnostics')
        t_sent = time.monotonic()
        session.send_text(instruction)
        # The policy takes it, or (once it has seen the gate latched at start-up: an e-stop)
        # refuses it until the operator's reset; either way the wheels must not turn.
        session.wait_until(lambda: session.status is not None and (
            session.status.instruction_id != '' or 'refused' in session.status.detail), 60,
            'the policy to take or refuse the instruction')
        # One second of the driver's 50 Hz wheel commands after the policy took it.
        session.wait_until(lambda: len(_wheel_speeds(board, t_sent)) >= 50, 30,
                           'wheel commands after the instruction')
        assert session.safety.state in (SafetyState.STATE_STOPPED, SafetyState.STATE_ESTOP)
        assert session.safety.reasons & SafetyState.REASON_SCAN_TIMEOUT
        assert max(_wheel_speeds(board, t_sent), default=0.0) == 0.0, \
            'wheels turned without a scan'
        assert any(s.level >= s.WARN and 'SCAN_TIMEOUT' in s.message for s in diagnostics)

        # 2. The scan arrives; an operator reset arms a gate that latched at start-up.
        drivers.scan_on = True
        session.wait_until(lambda: not session.safety.reasons & SafetyState.REASON_SCAN_TIMEOUT,
                           30, 'SCAN_TIMEOUT to clear')
        if session.safety.reasons & SafetyState.REASON_STARTUP:
            client = session.node.create_client(Estop, 'safety_gate/reset_estop')
            assert client.wait_for_service(timeout_sec=30)
            future = client.call_async(Estop.Request(reason='hardware-in-the-loop test'))
            session.wait_until(future.done, 30, 'the operator reset')
            assert future.result().success, future.result().message
        t_go = time.monotonic()
        session.send_text(instruction)
        session.wait_until(lambda: session.status.state == PolicyStatus.STATE_RUNNING, 60,
                           'RUNNING on the instruction')
        session.wait_until(lambda: max(_wheel_speeds(board, t_go), default=0.0) > 0.5, 60,
                           'the emulated wheels to turn')
        session.wait_until(lambda: max(abs(p) for p in board.positions) > 1.0, 60,
                           'the emulated wheels to turn a sixth of a revolution')
    except Exception:
        print('\n'.join(logs[-80:]))
        raise
    finally:
        session.close()
