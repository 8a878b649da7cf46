"""Forward kinematics of serial arms from URDF-style joint chains (position of the tool point).

The gate uses it to know where the end effector is (from `joint_states`) so the workspace
box can be enforced for end-effector deltas and for joint-position targets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

import numpy as np

Vec3 = Tuple[float, float, float]


@dataclass(frozen=True)
class RevoluteJoint:
    """A revolute joint as in URDF: fixed origin (xyz, rpy) from its parent, then a rotation
    about `axis` by the joint angle."""

    xyz: Vec3
    rpy: Vec3
    axis: Vec3


# RealMan RM75 (7-DoF), numbers from RealMan's rm_description/urdf/rm_75.urdf
# (base_link -> Link7 flange; joint1 ... joint7).
_H = math.pi / 2.0
RM75_CHAIN: Tuple[RevoluteJoint, ...] = (
    RevoluteJoint((0.0, 0.0, 0.2405), (-_H, 0.0, 0.0), (0.0, -1.0, 0.0)),
    RevoluteJoint((0.0, 0.0, 0.0), (_H, 0.0, 0.0), (0.0, 1.0, 0.0)),
    RevoluteJoint((0.0, 0.0, 0.256), (-_H, 0.0, 0.0), (0.0, -1.0, 0.0)),
    RevoluteJoint((0.0, 0.0, 0.0), (_H, 0.0, 0.0), (0.0, 1.0, 0.0)),
    RevoluteJoint((0.0, 0.0, 0.21), (-_H, 0.0, 0.0), (0.0, -1.0, 0.0)),
    RevoluteJoint((0.0, 0.0, 0.0), (_H, 0.0, 0.0), (0.0, 1.0, 0.0)),
    RevoluteJoint((0.0, 0.0, 0.144), (0.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
)

#: Chains selectable by the `arm.kinematics` parameter.
CHAINS: Dict[str, Tuple[RevoluteJoint, ...]] = {'rm75': RM75_CHAIN}


def _rpy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    # URDF convention: R = Rz(yaw) Ry(pitch) Rx(roll).
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def _axis_angle(axis: Vec3, angle: float) -> np.ndarray:
    x, y, z = axis
    c, s = math.cos(angle), math.sin(angle)
    t = 1.0 - c
    return np.array([[t * x * x + c, t * x * y - s * z, t * x * z + s * y],
                     [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
                     [t * x * z - s * y, t * y * z + s * x, t * z * z + c]])


class ForwardKinematics:
    """Tool-point position in the arm base frame for a joint vector."""

    def __init__(self, chain: Sequence[RevoluteJoint],
                 tool_offset: Vec3 = (0.0, 0.0, 0.0)) -> None:
        self.chain = tuple(chain)
        self.tool = np.array(tool_offset, dtype=np.float64)
        self._origins = [(_rpy_matrix(*j.rpy), np.array(j.xyz, dtype=np.float64))
                         for j in self.chain]

    @property
    def dof(self) -> int:
        return len(self.chain)

    def position(self, q: Sequence[float]) -> Vec3:
        if len(q) != len(self.chain):
            raise ValueError(f'expected {len(self.chain)} joint values, got {len(q)}')
        rot = np.eye(3)
        pos = np.zeros(3)
        for (r0, t0), joint, angle in zip(self._origins, self.chain, q):
            pos = pos + rot @ t0
            rot = rot @ r0 @ _axis_angle(joint.axis, float(angle))
        p = pos + rot @ self.tool
        return (float(p[0]), float(p[1]), float(p[2]))
