"""Map the gated ArmCommand onto the RealMan ROS 2 driver's topics (pure logic).

The RealMan driver (ros2_rm_robot / rm_driver; read in rm_driver.cpp and its topic
description) takes
  * `/rm_driver/movej_canfd_cmd`  rm_ros_interfaces/Jointpos {float32[] joint (rad), bool follow,
    float32 expand, uint8 dof} — joint pass-through ("CANFD"): no planning, the controller
    follows each point and keeps the last one when no new point comes;
  * `/rm_driver/movep_canfd_cmd`  rm_ros_interfaces/Cartepos {geometry_msgs/Pose pose,
    bool follow} — the same for a tool pose (the controller solves the inverse kinematics);
  * `/rm_driver/move_stop_cmd`    std_msgs/Bool — "trajectory emergency stop": the joints brake
    as hard as they can and the trajectory is discarded, not resumed (on some controller
    generations it needs a recovery or a power cycle);
  * `/rm_driver/set_gripper_position_cmd` rm_ros_interfaces/Gripperset {uint16 position
    1..1000 = opening 0..70 mm, bool block, uint16 timeout};
and reports `/rm_driver/udp_arm_position` (geometry_msgs/Pose) and `/joint_states`.

Mapping (one output per gated command):
  * MODE_END_EFFECTOR_DELTA -> movep_canfd_cmd: the delta composed onto the measured tool pose
    (`vla_common.arm_models.compose_delta`: translation added, rotation R(delta) R);
  * MODE_JOINT_POSITION -> movej_canfd_cmd (radians, `dof` from the arm model);
  * MODE_HOLD -> nothing: a routine stop (command timeout, lost heartbeat, a new instruction,
    the policy's queue running dry) stops streaming, and the pass-through controller holds the
    last point it was given (at most one command step, <= 10 mm, past where the arm was);
  * MODE_STOP -> move_stop_cmd, once per e-stop (the gate sends MODE_STOP only for the e-stop);
  * the gripper value (0 open .. 1 closed) -> set_gripper_position_cmd when it changes by more
    than a dead band (never on MODE_STOP: a held object stays held).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from vla_common.arm_models import ARM_MODELS, arm_model, compose_delta, UnknownArmModel

MODE_END_EFFECTOR_DELTA = 0
MODE_JOINT_POSITION = 1
MODE_STOP = 2
MODE_HOLD = 3

#: Gripperset.position range: 1 = closed (0 mm) ... 1000 = open (70 mm).
GRIPPER_POSITION_CLOSED = 1
GRIPPER_POSITION_OPEN = 1000

Vec3 = Tuple[float, float, float]
Quat = Tuple[float, float, float, float]  # x, y, z, w (ROS order)


@dataclass(frozen=True)
class Pose:
    position: Vec3
    orientation: Quat


@dataclass(frozen=True)
class BridgeOutput:
    """What to publish: `kind` is 'joint', 'pose', 'stop', 'hold' or 'none' (with `error`)."""

    kind: str
    joints: Tuple[float, ...] = ()
    dof: int = 0
    pose: Optional[Pose] = None
    error: str = ''


def arm_dof(model: str) -> int:
    """Joints of a RealMan model (UnknownArmModel for other names)."""
    return arm_model(model).dof


def apply_delta(pose: Pose, delta: Sequence[float]) -> Pose:
    """Apply an end-effector delta [dx, dy, dz, droll, dpitch, dyaw] in the arm base frame."""
    position, orientation = compose_delta(pose.position, pose.orientation, delta)
    return Pose(position, orientation)


def map_command(mode: int, joint_positions: Sequence[float], ee_delta: Sequence[float],
                model: str, current_pose: Optional[Pose]) -> BridgeOutput:
    """Translate one gated command; never guesses — anything off gives kind 'none'."""
    if model not in ARM_MODELS:
        return BridgeOutput('none', error=f'unknown arm model {model!r}')
    dof = arm_dof(model)
    if mode == MODE_STOP:
        return BridgeOutput('stop')
    if mode == MODE_HOLD:
        return BridgeOutput('hold')
    if mode == MODE_JOINT_POSITION:
        joints = tuple(float(j) for j in joint_positions)
        if len(joints) != dof:
            return BridgeOutput('none', error=f'{model} has {dof} joints, command has '
                                              f'{len(joints)}')
        if not all(math.isfinite(j) for j in joints):
            return BridgeOutput('none', error='non-finite joint position')
        return BridgeOutput('joint', joints=joints, dof=dof)
    if mode == MODE_END_EFFECTOR_DELTA:
        if current_pose is None:
            return BridgeOutput('none', error='no /rm_driver/udp_arm_position received yet')
        if len(ee_delta) != 6 or not all(math.isfinite(v) for v in ee_delta):
            return BridgeOutput('none', error='end-effector delta must be 6 finite values')
        return BridgeOutput('pose', pose=apply_delta(current_pose, ee_delta), dof=dof)
    return BridgeOutput('none', error=f'unknown command mode {mode}')


def gripper_position(command: float) -> int:
    """ArmCommand.gripper (0 open .. 1 closed) -> Gripperset.position (1000 open .. 1 closed)."""
    g = min(1.0, max(0.0, float(command)))
    return int(round(GRIPPER_POSITION_OPEN - g * (GRIPPER_POSITION_OPEN
                                                  - GRIPPER_POSITION_CLOSED)))


class StopLatch:
    """Send the driver's stop once per e-stop: re-armed by the next motion command."""

    def __init__(self) -> None:
        self._sent = False

    def on_output(self, out: BridgeOutput) -> bool:
        """True when a stop must be published for this output."""
        if out.kind == 'stop':
            if self._sent:
                return False
            self._sent = True
            return True
        if out.kind in ('joint', 'pose'):
            self._sent = False
        return False


class GripperLatch:
    """Forward a gripper command only when it differs from the last one sent by `deadband`."""

    def __init__(self, deadband: float = 0.05) -> None:
        self.deadband = deadband
        self._last: Optional[float] = None

    def on_command(self, mode: int, value: float) -> Optional[int]:
        """The Gripperset.position to publish, or None."""
        if mode == MODE_STOP or not math.isfinite(value):
            return None
        g = min(1.0, max(0.0, float(value)))
        if self._last is not None and abs(g - self._last) < self.deadband:
            return None
        self._last = g
        return gripper_position(g)


__all__ = ['BridgeOutput', 'GRIPPER_POSITION_CLOSED', 'GRIPPER_POSITION_OPEN', 'GripperLatch',
           'MODE_END_EFFECTOR_DELTA', 'MODE_HOLD', 'MODE_JOINT_POSITION', 'MODE_STOP', 'Pose',
           'StopLatch', 'UnknownArmModel', 'apply_delta', 'arm_dof', 'gripper_position',
           'map_command']
