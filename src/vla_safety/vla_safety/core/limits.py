"""Base velocity limits: finiteness, deadband, per-axis and planar caps, acceleration ramps.

A holonomic base command is `Twist2D(vx, vy, wz)` in `base_link` (REP-103: x forward, y left,
yaw counter-clockwise). Every function is total: it returns a finite command for any finite
input and never raises on extreme values (1e308 included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

from vla_common.planar import Twist2D

from .spec import declared_in_table


@dataclass(frozen=True)
@declared_in_table
class VelocityLimits:
    """Per-axis velocity limits (all >= 0) and an optional planar speed cap (0 disables it).

    `preserve_direction`: scale all three axes by one factor so the commanded direction and
    path curvature are kept; otherwise each axis is clamped on its own. An axis whose limit is
    0 is disabled (always zero) and does not scale the others.
    """

    max_vx_forward: float
    max_vx_backward: float
    max_vy: float
    max_wz: float
    max_planar_speed: float
    preserve_direction: bool


@dataclass(frozen=True)
@declared_in_table
class AccelLimits:
    """Acceleration (speeding up) and deceleration (slowing down) limits, all > 0."""

    accel_x: float
    decel_x: float
    accel_y: float
    decel_y: float
    accel_wz: float
    decel_wz: float


def apply_deadband(cmd: Twist2D, linear: float, angular: float) -> Twist2D:
    """Zero each axis whose magnitude is below its deadband (noise must not creep the robot)."""
    return Twist2D(0.0 if abs(cmd.vx) < linear else cmd.vx,
                   0.0 if abs(cmd.vy) < linear else cmd.vy,
                   0.0 if abs(cmd.wz) < angular else cmd.wz)


def _ratio(limit: float, value: float) -> float:
    """Largest factor f <= 1 with |value * f| <= limit (limit > 0)."""
    mag = abs(value)
    return 1.0 if mag <= limit else limit / mag


def limit_velocity(cmd: Twist2D, limits: VelocityLimits) -> Tuple[Twist2D, bool]:
    """Apply the per-axis limits and the planar cap; return (command, whether it changed)."""
    max_x = limits.max_vx_forward if cmd.vx >= 0.0 else limits.max_vx_backward
    # Disabled axes first: they are zero, whatever the mode.
    vx = cmd.vx if max_x > 0.0 else 0.0
    vy = cmd.vy if limits.max_vy > 0.0 else 0.0
    wz = cmd.wz if limits.max_wz > 0.0 else 0.0
    if limits.preserve_direction:
        factor = min(_ratio(max_x, vx) if vx else 1.0,
                     _ratio(limits.max_vy, vy) if vy else 1.0,
                     _ratio(limits.max_wz, wz) if wz else 1.0)
        if limits.max_planar_speed > 0.0:
            factor = min(factor, _ratio(limits.max_planar_speed, math.hypot(vx, vy)))
        out = Twist2D(vx * factor, vy * factor, wz * factor)
    else:
        out = Twist2D(max(-limits.max_vx_backward, min(limits.max_vx_forward, vx)),
                      max(-limits.max_vy, min(limits.max_vy, vy)),
                      max(-limits.max_wz, min(limits.max_wz, wz)))
        if limits.max_planar_speed > 0.0:
            f = _ratio(limits.max_planar_speed, math.hypot(out.vx, out.vy))
            out = Twist2D(out.vx * f, out.vy * f, out.wz)
    # Rounding in the scaling may overshoot a limit by an ulp: clamp to be exact.
    out = Twist2D(max(-limits.max_vx_backward, min(limits.max_vx_forward, out.vx)),
                  max(-limits.max_vy, min(limits.max_vy, out.vy)),
                  max(-limits.max_wz, min(limits.max_wz, out.wz)))
    return out, not out.close_to(cmd, 0.0)


def ramp_axis(target: float, previous: float, accel: float, decel: float, dt: float) -> float:
    """Move `previous` towards `target` by at most accel*dt (speeding up) or decel*dt.

    Reversing direction counts as slowing down until zero is reached; the new direction then
    starts on the next step (conservative).
    """
    if dt <= 0.0:
        return previous
    if previous * target < 0.0:
        step = decel * dt
        if abs(previous) > step:
            return previous - math.copysign(step, previous)
        return 0.0
    limit = accel * dt if abs(target) > abs(previous) else decel * dt
    delta = max(-limit, min(limit, target - previous))
    out = previous + delta
    # Never overshoot the target through rounding.
    if (delta > 0.0 and out > target) or (delta < 0.0 and out < target):
        out = target
    return out


def ramp(target: Twist2D, previous: Twist2D, dt: float,
         limits: AccelLimits) -> Tuple[Twist2D, bool]:
    """Per-axis acceleration/deceleration limit; return (command, whether it changed)."""
    out = Twist2D(ramp_axis(target.vx, previous.vx, limits.accel_x, limits.decel_x, dt),
                  ramp_axis(target.vy, previous.vy, limits.accel_y, limits.decel_y, dt),
                  ramp_axis(target.wz, previous.wz, limits.accel_wz, limits.decel_wz, dt))
    return out, not out.close_to(target, 0.0)
