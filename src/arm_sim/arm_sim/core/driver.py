"""What RealMan's rm_driver and controller accept, in their units (pure).

Read from RealManRobot/ros2_rm_robot (`rm_driver/src/rm_driver.cpp`, `rm_driver.h`, the
topic description in `rm_driver/doc/`, `rm_ros_interfaces/msg/`):

* `/rm_driver/movej_canfd_cmd` (Jointpos {float32[] joint, bool follow, float32 expand,
  uint8 dof}): joint angles in **radians**; the driver multiplies each by
  RAD_DEGREE = 57.295791433 and passes degrees to the controller. It reads joint[0..5], and
  joint[6] only when `dof == 7`; it does not check the array length or the values. A
  pass-through ("CANFD") target: no planning, the controller servoes to it and holds it when
  no new point comes.
* `/rm_driver/movep_canfd_cmd` (Cartepos {geometry_msgs/Pose pose, bool follow}): the tool
  pose in the base (work) frame, metres and a quaternion; the controller solves the inverse
  kinematics.
* `/rm_driver/move_stop_cmd` (std_msgs/Bool): "trajectory emergency stop". The driver passes
  `data` as the call's *blocking* flag, so true and false both stop; the current trajectory is
  discarded (not resumed) and `/rm_driver/move_stop_result` (Bool) says whether it worked.
* `/rm_driver/set_gripper_position_cmd` (Gripperset {uint16 position, bool block, uint16
  timeout}): position 1..1000 = opening 0..70 mm; the gripper stops at the position or when
  its force threshold is exceeded (it holds what it closed on);
  `/rm_driver/set_gripper_position_result` (Bool).
* `/joint_states` (sensor_msgs/JointState): names joint1..jointN, positions in radians
  computed as degrees x DEGREE_RAD = 0.01745 (sic: 0.019 % below pi/180), no velocity or
  effort, stamped, no frame_id; `/rm_driver/udp_arm_position` (geometry_msgs/Pose): the tool
  pose in the base frame. Both at the UDP report period (`udp_cycle`, 5 ms by default).

Where the real driver would pass something undefined to the controller (a short joint array,
a `dof` that does not match the arm, NaN), or the controller refuses a target (beyond a joint
limit: error 0x1002; unreachable pose: 0x1003), the emulation ignores the command and reports
the error (`CommandError`); the node logs it at ERROR level with the driver's wording
("Movej CANFD error code is N") and the arm keeps its last target. Nothing here raises on bad
input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from vla_common.arm_models import ArmModel

RAD_DEGREE = 57.295791433   # rm_driver.h: rad -> deg for commands
DEGREE_RAD = 0.01745        # rm_driver.h: deg -> rad for /joint_states

GRIPPER_MAX_OPENING = 0.070  # m at position 1000
GRIPPER_POSITION_RANGE = (1, 1000)

# Controller / API error codes (rm_driver topic description, "Error Description").
ERR_ANGLE_LIMIT = 0x1002       # the target angle exceeds the limit
ERR_UNREACHABLE = 0x1003       # this position is inaccessible and is a singular point
ERR_ARRAY_LENGTH = 0x000A      # array length error
ERR_ILLEGAL_INPUT = 0x0013     # illegal input


@dataclass(frozen=True)
class CommandError:
    """Why a command is ignored: the controller/API code and a readable reason."""

    code: int
    reason: str

    def log_text(self, command: str) -> str:
        return f'{command} error code is {self.code} (0x{self.code:04X}: {self.reason})'


@dataclass(frozen=True)
class JointTarget:
    """An accepted joint target (rad, as the controller will servo to it)."""

    joints: Tuple[float, ...]
    ignored_values: int = 0     # values beyond the arm's dof (the driver never reads them)


def command_to_controller(radians: float) -> float:
    """A commanded joint angle as the controller receives it (degrees)."""
    return radians * RAD_DEGREE


def reported_joint(true_radians: float) -> float:
    """What /joint_states reports for a true joint angle (the driver's 0.01745 factor)."""
    return math.degrees(true_radians) * DEGREE_RAD


def check_jointpos(model: ArmModel, joint: Sequence[float], dof: int,
                   margin: float = 0.0) -> Union[JointTarget, CommandError]:
    """A movej_canfd_cmd (Jointpos) for `model`: the target or why it is ignored."""
    values = [float(v) for v in joint]
    if dof != model.dof:
        return CommandError(ERR_ILLEGAL_INPUT, f'dof {dof} does not match the {model.name}\'s '
                                               f'{model.dof} joints')
    if len(values) < model.dof:
        return CommandError(ERR_ARRAY_LENGTH, f'{len(values)} joint values, the '
                                              f'{model.name} needs {model.dof}')
    target = values[:model.dof]
    if not all(math.isfinite(v) for v in target):
        return CommandError(ERR_ILLEGAL_INPUT, 'non-finite joint value')
    # The controller works in degrees; a limit check on the converted value is the same check.
    deg = [command_to_controller(v) for v in target]
    for i, (d, jt) in enumerate(zip(deg, model.joints)):
        if not (math.degrees(jt.lower + margin) - 1e-6 <= d <= math.degrees(jt.upper - margin)
                + 1e-6):
            return CommandError(ERR_ANGLE_LIMIT, f'{jt.name} target {target[i]:.4f} rad is '
                                                 f'outside [{jt.lower}, {jt.upper}]')
    return JointTarget(tuple(math.radians(d) for d in deg), len(values) - model.dof)


def check_pose(position: Sequence[float],
               orientation: Sequence[float]) -> Optional[CommandError]:
    """A movep_canfd_cmd (Cartepos) pose before inverse kinematics: finite, a usable quaternion."""
    vals = [float(v) for v in list(position) + list(orientation)]
    if not all(math.isfinite(v) for v in vals):
        return CommandError(ERR_ILLEGAL_INPUT, 'non-finite pose')
    if math.sqrt(sum(q * q for q in vals[3:])) < 1e-6:
        return CommandError(ERR_ILLEGAL_INPUT, 'zero quaternion')
    return None


def unreachable(position_error: float, rotation_error: float) -> CommandError:
    return CommandError(ERR_UNREACHABLE, f'no inverse kinematics solution (residual '
                                         f'{position_error * 1000:.1f} mm, '
                                         f'{math.degrees(rotation_error):.1f} deg)')


def gripper_opening(position: int) -> Union[float, CommandError]:
    """Gripperset.position (1..1000) -> opening between the fingers (m)."""
    lo, hi = GRIPPER_POSITION_RANGE
    if not lo <= int(position) <= hi:
        return CommandError(ERR_ILLEGAL_INPUT, f'gripper position {position} outside '
                                               f'[{lo}, {hi}]')
    return GRIPPER_MAX_OPENING * int(position) / hi


def joint_state_positions(true_q: Sequence[float]) -> np.ndarray:
    """The positions /joint_states carries for the arm's true joint angles."""
    return np.array([reported_joint(float(q)) for q in true_q])


__all__ = ['CommandError', 'DEGREE_RAD', 'ERR_ANGLE_LIMIT', 'ERR_ARRAY_LENGTH',
           'ERR_ILLEGAL_INPUT', 'ERR_UNREACHABLE', 'GRIPPER_MAX_OPENING', 'JointTarget',
           'RAD_DEGREE', 'check_jointpos', 'check_pose', 'command_to_controller',
           'gripper_opening', 'joint_state_positions', 'reported_joint', 'unreachable']
