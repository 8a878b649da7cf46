"""Map the gated ArmCommand onto the RealMan ROS 2 driver's command topics (pure logic).

The RealMan driver (ros2_rm_robot / rm_driver) takes
  * `/rm_driver/movej_canfd_cmd`  rm_ros_interfaces/Jointpos {float32[] joint (rad), bool follow,
    float32 expand, uint8 dof} — joint pass-through, streamed;
  * `/rm_driver/movep_canfd_cmd`  rm_ros_interfaces/Cartepos {geometry_msgs/Pose pose,
    bool follow} — Cartesian pass-through, streamed;
  * `/rm_driver/move_stop_cmd`    std_msgs/Bool (true) — stop now; the arm does not resume its
    trajectory, and on some controller generations it needs a power cycle, so it is sent once
    per fault, never as a pause.
and reports `/rm_driver/udp_arm_position` (geometry_msgs/Pose) and `/joint_states`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

#: Degrees of freedom of the supported arms.
ARM_DOF = {'RM65': 6, 'RM75': 7, 'GEN72': 7}

MODE_END_EFFECTOR_DELTA = 0
MODE_JOINT_POSITION = 1
MODE_STOP = 2

Vec3 = Tuple[float, float, float]
Quat = Tuple[float, float, float, float]  # x, y, z, w (ROS order)


@dataclass(frozen=True)
class Pose:
    position: Vec3
    orientation: Quat


@dataclass(frozen=True)
class BridgeOutput:
    """What to publish: `kind` is 'joint', 'pose', 'stop' or 'none' (with `error`)."""

    kind: str
    joints: Tuple[float, ...] = ()
    dof: int = 0
    pose: Optional[Pose] = None
    error: str = ''


def _quat_mul(a: Quat, b: Quat) -> Quat:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz)


def rpy_to_quat(roll: float, pitch: float, yaw: float) -> Quat:
    """Fixed-axis roll-pitch-yaw (REP-103) to a unit quaternion (x, y, z, w)."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return (sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy, cr * cp * cy + sr * sp * sy)


def apply_delta(pose: Pose, delta: Sequence[float]) -> Pose:
    """Apply an end-effector delta [dx, dy, dz, droll, dpitch, dyaw] in the arm base frame."""
    x, y, z = pose.position
    dq = rpy_to_quat(delta[3], delta[4], delta[5])
    q = _quat_mul(dq, pose.orientation)
    norm = math.sqrt(sum(c * c for c in q))
    return Pose((x + delta[0], y + delta[1], z + delta[2]), tuple(c / norm for c in q))


def map_command(mode: int, joint_positions: Sequence[float], ee_delta: Sequence[float],
                arm_model: str, current_pose: Optional[Pose]) -> BridgeOutput:
    """Translate one gated command; never guesses — anything off gives kind 'none'."""
    if arm_model not in ARM_DOF:
        return BridgeOutput('none', error=f'unknown arm model {arm_model!r}')
    dof = ARM_DOF[arm_model]
    if mode == MODE_STOP:
        return BridgeOutput('stop')
    if mode == MODE_JOINT_POSITION:
        joints = tuple(float(j) for j in joint_positions)
        if len(joints) != dof:
            return BridgeOutput('none', error=f'{arm_model} has {dof} joints, command has '
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


class StopLatch:
    """Send the driver's stop once per fault: re-armed by the next motion command."""

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
