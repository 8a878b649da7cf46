"""Arm limits: end-effector step limits, workspace box, joint limits, joint step per tick.

Positions are in the arm base frame (m), angles in rad. Every function returns finite values
for finite inputs and reports whether it changed anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Tuple

from vla_common.arm_models import arm_model, ArmModel

from .spec import declared_in_table

Vec3 = Tuple[float, float, float]


@dataclass(frozen=True)
@declared_in_table
class ArmLimits:
    """Limits of the arm gate. The joints (names, limits, velocities) are the arm model's,
    from the shared table of RealMan arms (vla_common.arm_models); the rest are parameters.

    The end-effector step caps are per command at `command_rate` (the policy's control rate):
    a delta may move the tool at most `max_translation_step` m (and `max_rotation_step` rad)
    per 1 / command_rate s, so the speed cap is step x command_rate, however often deltas come.
    """

    model: str
    joint_limit_margin: float
    joint_velocity_scale: float
    max_translation_step: float
    max_rotation_step: float
    command_rate: float
    workspace_min: Vec3
    workspace_max: Vec3
    hold_tolerance: float
    tool_offset: Vec3

    @property
    def arm(self) -> ArmModel:
        """The arm model: `joint_names`, joint `lower` / `upper` limits, `max_velocity`."""
        return arm_model(self.model)


def _scale_to(values: Sequence[float], limit: float) -> Tuple[Tuple[float, ...], bool]:
    """Scale a vector so every component is within +-limit (direction kept)."""
    peak = max(abs(v) for v in values)
    if peak <= limit:
        return tuple(values), False
    f = limit / peak
    out = tuple(max(-limit, min(limit, v * f)) for v in values)
    return out, True


def rate_scaled_step(cap: float, elapsed: float, command_rate: float) -> float:
    """The step allowed after `elapsed` s since the last one: `cap` per 1 / command_rate s
    (at most one cap), so a policy sending faster than its rate cannot move faster."""
    return cap * max(0.0, min(1.0, elapsed * command_rate))


def limit_ee_step(delta: Sequence[float], max_translation: float,
                  max_rotation: float) -> Tuple[Tuple[float, ...], bool]:
    """[dx, dy, dz, droll, dpitch, dyaw] -> per-command step limits, direction kept per part."""
    t, t_lim = _scale_to(delta[:3], max_translation)
    r, r_lim = _scale_to(delta[3:6], max_rotation)
    return t + r, t_lim or r_lim


def clip_delta_to_box(position: Vec3, delta: Vec3, lo: Vec3,
                      hi: Vec3) -> Tuple[Vec3, bool]:
    """Per axis: keep position+delta inside [lo, hi]; from outside, only moves back in.

    Never makes a step larger than commanded, never reverses its sign.
    """
    out = []
    changed = False
    for p, d, a, b in zip(position, delta, lo, hi):
        if d > 0.0:
            nd = min(d, max(0.0, b - p))
        elif d < 0.0:
            nd = max(d, min(0.0, a - p))
        else:
            nd = 0.0
        changed = changed or nd != d
        out.append(nd)
    return (out[0], out[1], out[2]), changed


def box_excess(p: Vec3, lo: Vec3, hi: Vec3) -> float:
    """Distance from p to the box (0 inside)."""
    return math.sqrt(sum(max(a - x, 0.0, x - b) ** 2 for x, a, b in zip(p, lo, hi)))


def clamp_joints(target: Sequence[float], lower: Sequence[float], upper: Sequence[float],
                 margin: float) -> Tuple[Tuple[float, ...], bool]:
    """Clamp each joint into [lower + margin, upper - margin]."""
    out = tuple(max(lo + margin, min(hi - margin, q))
                for q, lo, hi in zip(target, lower, upper))
    return out, any(a != b for a, b in zip(out, target))


def step_joints(target: Sequence[float], previous: Sequence[float],
                max_step: Sequence[float]) -> Tuple[Tuple[float, ...], bool]:
    """Move from `previous` towards `target` by at most `max_step` per joint, all joints
    scaled by one factor so they arrive together (straight line in joint space)."""
    deltas = [t - p for t, p in zip(target, previous)]
    factor = 1.0
    for d, m in zip(deltas, max_step):
        if abs(d) > m:
            factor = min(factor, m / abs(d) if m > 0.0 else 0.0)
    if factor >= 1.0:
        return tuple(target), False
    out = tuple(p + max(-m, min(m, d * factor)) for p, d, m in zip(previous, deltas, max_step))
    return out, True


def clamp_gripper(value: float) -> Tuple[float, bool]:
    """Gripper opening command into [0, 1] (0 open, 1 closed)."""
    out = max(0.0, min(1.0, value))
    return out, out != value
