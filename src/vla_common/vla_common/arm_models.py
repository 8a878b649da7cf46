"""RealMan arm models: one table of joints, limits and link masses, and their kinematics.

The single source for every part of the stack that needs the arm's geometry: the safety gate
(joint names, limits, forward kinematics of the tool point), the RealMan bridge (degrees of
freedom) and the MuJoCo arm simulator (the MJCF it builds, its controller's inverse
kinematics). It lives in `vla_common`, the bottom layer, because both `vla_safety` and
`arm_sim` import it and neither may import the other.

The numbers are RealMan's published URDFs (RealManRobot/ros2_rm_robot,
`rm_description/urdf/rm_75.urdf`, `rm_65.urdf`, `rm_gen72.urdf`): each joint's origin
(xyz, rpy) in its parent link, axis, limits (lower/upper rad, velocity rad/s, effort N m) and
each link's mass (kg), centre of mass (m) and principal-axis diagonal of its inertia
(kg m^2; the URDFs' small products of inertia are dropped). Joint names are the driver's
(`/joint_states` of rm_driver: joint1 ... jointN). Pure numpy, no ROS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

Vec3 = Tuple[float, float, float]


@dataclass(frozen=True)
class Joint:
    """A URDF revolute joint: fixed origin in the parent link, rotation about `axis`."""

    name: str
    xyz: Vec3
    rpy: Vec3
    axis: Vec3
    lower: float      # rad
    upper: float      # rad
    velocity: float   # rad/s
    effort: float     # N m


@dataclass(frozen=True)
class Link:
    """Inertial data of one link (in the link frame)."""

    name: str
    mass: float                    # kg
    com: Vec3                      # m
    inertia: Vec3                  # kg m^2: ixx, iyy, izz


@dataclass(frozen=True)
class ArmModel:
    """One RealMan arm: `links[0]` is base_link, `links[i]` is the child of `joints[i-1]`."""

    name: str            # the stack's name: RM65, RM75, GEN72
    driver_type: str     # rm_driver's `arm_type` parameter
    urdf: str            # the RealMan URDF the numbers come from
    joints: Tuple[Joint, ...]
    links: Tuple[Link, ...]

    @property
    def dof(self) -> int:
        return len(self.joints)

    @property
    def joint_names(self) -> Tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def lower(self) -> Tuple[float, ...]:
        return tuple(j.lower for j in self.joints)

    @property
    def upper(self) -> Tuple[float, ...]:
        return tuple(j.upper for j in self.joints)

    @property
    def max_velocity(self) -> Tuple[float, ...]:
        return tuple(j.velocity for j in self.joints)


def _j(i: int, xyz: Vec3, rpy: Vec3, axis: Vec3, limit: float, velocity: float,
       effort: float, upper: Optional[float] = None) -> Joint:
    lower = -limit
    return Joint(f'joint{i}', xyz, rpy, axis, lower, limit if upper is None else upper,
                 velocity, effort)


_P = 1.5708   # the URDFs write pi/2 as 1.5708; kept literally

RM75 = ArmModel(
    'RM75', 'RM_75', 'rm_description/urdf/rm_75.urdf',
    (_j(1, (0, 0, 0.2405), (-_P, 0, 0), (0, -1, 0), 3.1, 3.14, 60),
     _j(2, (0, 0, 0), (_P, 0, 0), (0, 1, 0), 2.268, 3.14, 60),
     _j(3, (0, 0, 0.256), (-_P, 0, 0), (0, -1, 0), 3.1, 3.92, 30),
     _j(4, (0, 0, 0), (_P, 0, 0), (0, 1, 0), 2.355, 3.92, 30),
     _j(5, (0, 0, 0.21), (-_P, 0, 0), (0, -1, 0), 3.1, 3.92, 10),
     _j(6, (0, 0, 0), (_P, 0, 0), (0, 1, 0), 2.233, 3.92, 10),
     _j(7, (0, 0, 0.144), (0, 0, 0), (0, 0, 1), 6.28, 3.92, 10)),
    (Link('base_link', 1.862, (0.0005, 0.0001, 0.0600), (0.00172, 0.00171, 0.00090)),
     Link('Link1', 1.574, (0.0002, -0.0133, -0.0100), (0.00249, 0.00232, 0.00145)),
     Link('Link2', 1.217, (-0.0004, -0.1068, 0.0053), (0.00349, 0.00089, 0.00344)),
     Link('Link3', 1.110, (0.0000, -0.0140, -0.0113), (0.00184, 0.00150, 0.00106)),
     Link('Link4', 0.685, (0.0000, -0.0847, 0.0047), (0.00128, 0.00037, 0.00126)),
     Link('Link5', 0.619, (0.0001, -0.0129, -0.0088), (0.00063, 0.00054, 0.00037)),
     Link('Link6', 0.602, (0.0000, -0.0785, 0.0028), (0.00078, 0.00029, 0.00076)),
     Link('Link7', 0.107, (0.0011, -0.0001, -0.0101), (0.000044, 0.000035, 0.000065))))

RM65 = ArmModel(
    'RM65', 'RM_65', 'rm_description/urdf/rm_65.urdf',
    (_j(1, (0, 0, 0.2405), (0, 0, 0), (0, 0, 1), 3.1, 3.14, 60),
     _j(2, (0, 0, 0), (_P, -_P, 0), (0, 0, 1), 2.268, 3.14, 60),
     _j(3, (0.256, 0, 0), (0, 0, _P), (0, 0, 1), 2.355, 3.92, 30),
     _j(4, (0, -0.21, 0), (_P, 0, 0), (0, 0, 1), 3.1, 3.92, 10),
     _j(5, (0, 0, 0), (-_P, 0, 0), (0, 0, 1), 2.233, 3.92, 10),
     _j(6, (0, -0.144, 0), (_P, 0, 0), (0, 0, 1), 6.28, 3.92, 10)),
    (Link('base_link', 0.841, (-0.0004, 0.0000, 0.0599), (0.00173, 0.00171, 0.00090)),
     Link('Link1', 0.594, (0.0000, 0.0211, -0.0252), (0.00127, 0.00118, 0.00056)),
     Link('Link2', 0.864, (0.1523, 0.0000, -0.0062), (0.00089, 0.00734, 0.00698)),
     Link('Link3', 0.290, (0.0000, -0.0596, 0.0106), (0.00064, 0.00016, 0.00061)),
     Link('Link4', 0.239, (0.0000, -0.0180, -0.0215), (0.00029, 0.00026, 0.00012)),
     Link('Link5', 0.219, (0.0000, -0.0594, 0.0074), (0.00035, 0.00010, 0.00033)),
     Link('Link6', 0.065, (0.0007, -0.0004, -0.0127), (0.000020, 0.000019, 0.000032))))

GEN72 = ArmModel(
    'GEN72', 'GEN_72', 'rm_description/urdf/rm_gen72.urdf',
    (_j(1, (0, 0, 0.218), (0, 0, 0), (0, 0, 1), 3.0014, 3.141, 25),
     _j(2, (0, 0, 0), (-_P, 0, 0), (0, 0, 1), 1.8323, 3.141, 25),
     _j(3, (0, -0.28, 0), (_P, 0, 0), (0, 0, 1), 3.0014, 3.141, 25),
     _j(4, (0.04, 0, 0), (_P, 0, 0), (0, 0, 1), 2.8792, 3.141, 25, upper=0.9597),
     _j(5, (-0.019, 0.2525, 0), (-_P, 0, 0), (0, 0, 1), 3.0014, 3.926, 5),
     _j(6, (0, 0, 0), (_P, 0, 0), (0, 0, 1), 1.707, 3.926, 5, upper=1.783),
     _j(7, (0.0905, 0.067, 0), (_P, 0, _P), (0, 0, 1), 3.0014, 3.926, 5)),
    (Link('base_link', 0.726, (0.0006, 0.0001, 0.0501), (0.00117, 0.00114, 0.00080)),
     Link('Link1', 0.511, (0.0000, -0.0001, -0.0475), (0.00096, 0.00102, 0.00039)),
     Link('Link2', 0.552, (0.0000, -0.0576, 0.0000), (0.00142, 0.00053, 0.00127)),
     Link('Link3', 0.774, (0.0090, 0.0000, -0.0738), (0.00242, 0.00249, 0.00090)),
     Link('Link4', 0.437, (-0.0096, 0.0352, 0.0002), (0.00087, 0.00027, 0.00095)),
     Link('Link5', 0.424, (0.0000, 0.0000, -0.0670), (0.00112, 0.00103, 0.00027)),
     Link('Link6', 0.303, (0.0018, 0.0380, -0.0001), (0.00014, 0.00013, 0.00016)),
     Link('Link7', 0.177, (0.0002, 0.0000, -0.0292), (0.000062, 0.000062, 0.000085))))

#: Every supported arm, by the name the stack's `arm_model` argument uses.
ARM_MODELS: Dict[str, ArmModel] = {m.name: m for m in (RM65, RM75, GEN72)}


class UnknownArmModel(ValueError):
    """An `arm_model` that is not in the table."""


def arm_model(name: str) -> ArmModel:
    """The table entry for `name` (RM65, RM75, GEN72); UnknownArmModel otherwise."""
    try:
        return ARM_MODELS[name]
    except (KeyError, TypeError):
        raise UnknownArmModel(f'unknown arm model {name!r}; supported: '
                              f'{", ".join(sorted(ARM_MODELS))}') from None


# --- kinematics ---------------------------------------------------------------------------------
def rpy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """URDF / REP-103 fixed-axis roll-pitch-yaw: R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def axis_angle_matrix(axis: Sequence[float], angle: float) -> np.ndarray:
    """Rotation by `angle` about the unit vector `axis` (Rodrigues)."""
    x, y, z = (float(a) for a in axis)
    c, s = math.cos(angle), math.sin(angle)
    t = 1.0 - c
    return np.array([[t * x * x + c, t * x * y - s * z, t * x * z + s * y],
                     [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
                     [t * x * z - s * y, t * y * z + s * x, t * z * z + c]])


def matrix_to_quaternion(r: np.ndarray) -> Tuple[float, float, float, float]:
    """Rotation matrix -> unit quaternion in ROS order (x, y, z, w), w >= 0."""
    m = np.asarray(r, dtype=np.float64)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0.0:
        s = 2.0 * math.sqrt(tr + 1.0)
        w, x = 0.25 * s, (m[2, 1] - m[1, 2]) / s
        y, z = (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        w, x = (m[2, 1] - m[1, 2]) / s, 0.25 * s
        y, z = (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        w, x = (m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s
        y, z = 0.25 * s, (m[1, 2] + m[2, 1]) / s
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        w, x = (m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s
        y, z = (m[1, 2] + m[2, 1]) / s, 0.25 * s
    q = np.array([x, y, z, w])
    q /= np.linalg.norm(q)
    if q[3] < 0.0:
        q = -q
    return (float(q[0]), float(q[1]), float(q[2]), float(q[3]))


def quaternion_to_matrix(q: Sequence[float]) -> np.ndarray:
    """ROS-order quaternion (x, y, z, w) -> rotation matrix (normalised first)."""
    x, y, z, w = (float(v) for v in q)
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if not n > 0.0 or not math.isfinite(n):
        raise ValueError('quaternion must be finite and non-zero')
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def rotation_error(current: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Axis-angle vector (base frame) rotating `current` onto `target`."""
    r = np.asarray(target) @ np.asarray(current).T
    angle = math.acos(max(-1.0, min(1.0, (np.trace(r) - 1.0) / 2.0)))
    if angle < 1e-9:
        return np.zeros(3)
    v = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    s = math.sin(angle)
    if s < 1e-6:   # angle ~ pi: axis from the symmetric part
        axis = np.sqrt(np.maximum((np.diag(r) + 1.0) / 2.0, 0.0))
        k = int(np.argmax(axis))
        signs = np.sign(r[k] + r[:, k])
        signs[k] = 1.0
        return angle * axis * signs
    return angle * v / (2.0 * s)


def compose_delta(position: Sequence[float], quaternion: Sequence[float],
                  delta: Sequence[float]
                  ) -> Tuple[Tuple[float, float, float], Tuple[float, float, float, float]]:
    """An end-effector pose moved by delta [dx, dy, dz, droll, dpitch, dyaw] (base frame).

    The translation is added; the rotation delta is a fixed-axis roll-pitch-yaw rotation in
    the base frame applied after the current orientation (R' = R(delta) R). Quaternions in
    ROS order (x, y, z, w). This is how an ArmCommand end-effector delta becomes a tool pose.
    """
    rot = rpy_matrix(float(delta[3]), float(delta[4]), float(delta[5])) \
        @ quaternion_to_matrix(quaternion)
    p = (float(position[0]) + float(delta[0]), float(position[1]) + float(delta[1]),
         float(position[2]) + float(delta[2]))
    return p, matrix_to_quaternion(rot)


class Kinematics:
    """Forward kinematics and the geometric Jacobian of a model's tool point.

    `tool_offset` is the tool point in the last link's (flange) frame. Positions are in the
    arm base frame (base_link), metres; rotations are 3x3 matrices.
    """

    def __init__(self, model: ArmModel, tool_offset: Sequence[float] = (0.0, 0.0, 0.0)) -> None:
        self.model = model
        self.tool = np.asarray(tool_offset, dtype=np.float64).reshape(3)
        self._origins = [(rpy_matrix(*j.rpy), np.asarray(j.xyz, dtype=np.float64))
                         for j in model.joints]
        self._axes = [np.asarray(j.axis, dtype=np.float64) for j in model.joints]

    @property
    def dof(self) -> int:
        return self.model.dof

    def _check(self, q: Sequence[float]) -> None:
        if len(q) != self.dof:
            raise ValueError(f'{self.model.name} has {self.dof} joints, got {len(q)} values')

    def frames(self, q: Sequence[float]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Joint positions (dof, 3), joint axes in the base frame (dof, 3) and the flange
        pose as a 4x4 matrix."""
        self._check(q)
        rot = np.eye(3)
        pos = np.zeros(3)
        points = np.zeros((self.dof, 3))
        axes = np.zeros((self.dof, 3))
        for i, ((r0, t0), axis, angle) in enumerate(zip(self._origins, self._axes, q)):
            pos = pos + rot @ t0
            rot = rot @ r0
            points[i] = pos
            axes[i] = rot @ axis
            rot = rot @ axis_angle_matrix(axis, float(angle))
        flange = np.eye(4)
        flange[:3, :3], flange[:3, 3] = rot, pos
        return points, axes, flange

    def pose(self, q: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
        """Tool point position (3,) and orientation (3x3) in the base frame."""
        _, _, flange = self.frames(q)
        rot = flange[:3, :3]
        return flange[:3, 3] + rot @ self.tool, rot

    def position(self, q: Sequence[float]) -> Vec3:
        p, _ = self.pose(q)
        return (float(p[0]), float(p[1]), float(p[2]))

    def jacobian(self, q: Sequence[float]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(J (6 x dof: linear rows then angular rows), tool position, tool rotation)."""
        points, axes, flange = self.frames(q)
        rot = flange[:3, :3]
        p = flange[:3, 3] + rot @ self.tool
        jac = np.zeros((6, self.dof))
        for i in range(self.dof):
            jac[:3, i] = np.cross(axes[i], p - points[i])
            jac[3:, i] = axes[i]
        return jac, p, rot

    def inverse(self, position: Sequence[float], rotation: np.ndarray, q0: Sequence[float],
                rest: Optional[Sequence[float]] = None, iterations: int = 50,
                tolerance: Tuple[float, float] = (1e-4, 1e-3), damping: float = 0.02,
                margin: float = 0.0) -> Tuple[Optional[np.ndarray], float, float]:
        """Joints that put the tool at (position, rotation), starting from `q0`.

        Damped least squares on the 6-D pose error, joints clamped to the limits minus
        `margin`; a redundant arm is pulled towards `rest` in the Jacobian's null space.
        Returns (q or None when it did not converge, position error m, rotation error rad).
        """
        self._check(q0)
        lo = np.asarray(self.model.lower) + margin
        hi = np.asarray(self.model.upper) - margin
        q = np.clip(np.asarray(q0, dtype=np.float64), lo, hi)
        target_p = np.asarray(position, dtype=np.float64)
        target_r = np.asarray(rotation, dtype=np.float64)
        q_rest = None if rest is None else np.asarray(rest, dtype=np.float64)
        eye = np.eye(6)
        perr = rerr = math.inf
        for _ in range(iterations):
            jac, p, rot = self.jacobian(q)
            err = np.concatenate([target_p - p, rotation_error(rot, target_r)])
            perr, rerr = float(np.linalg.norm(err[:3])), float(np.linalg.norm(err[3:]))
            if perr <= tolerance[0] and rerr <= tolerance[1]:
                return q, perr, rerr
            # Levenberg-Marquardt style: damping shrinks with the error, so the last steps
            # are (nearly) Gauss-Newton and converge quadratically.
            lam = damping * min(1.0, perr + rerr)
            dq = jac.T @ np.linalg.solve(jac @ jac.T + (lam ** 2) * eye, err)
            if q_rest is not None and self.dof > 6:
                # Exact null-space projector: the posture pull cannot disturb the pose.
                null = np.eye(self.dof) - np.linalg.pinv(jac) @ jac
                dq = dq + null @ (0.2 * (q_rest - q))
            step = float(np.max(np.abs(dq)))
            if step > 0.5:      # keep each step in the region where the linearisation holds
                dq *= 0.5 / step
            q = np.clip(q + dq, lo, hi)
        jac, p, rot = self.jacobian(q)
        perr = float(np.linalg.norm(target_p - p))
        rerr = float(np.linalg.norm(rotation_error(rot, target_r)))
        ok = perr <= tolerance[0] and rerr <= tolerance[1]
        return (q if ok else None), perr, rerr


__all__ = ['ARM_MODELS', 'ArmModel', 'GEN72', 'Joint', 'Kinematics', 'Link', 'RM65', 'RM75',
           'UnknownArmModel', 'arm_model', 'axis_angle_matrix', 'compose_delta',
           'matrix_to_quaternion', 'quaternion_to_matrix', 'rotation_error', 'rpy_matrix']
