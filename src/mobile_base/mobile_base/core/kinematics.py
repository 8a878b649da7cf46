"""Mecanum kinematics: body twist <-> four wheel angular speeds, with saturation.

Wheel order everywhere (arrays, serial protocol, URDF joints): front-left, front-right,
rear-left, rear-right (FL, FR, RL, RR). A positive wheel speed rolls the wheel forward (+x);
rollers are in the standard "X" arrangement (seen from above, the ground-contact roller axes
form an X centred on the base), so a leftward strafe (vy > 0) spins FL and RR backwards and
FR and RL forwards.

    w_fl = (vx - vy - k wz) / r        vx = r/4 (  w_fl + w_fr + w_rl + w_rr)
    w_fr = (vx + vy + k wz) / r        vy = r/4 (- w_fl + w_fr + w_rl - w_rr)
    w_rl = (vx + vy - k wz) / r        wz = r/(4k) (- w_fl + w_fr - w_rl + w_rr)
    w_rr = (vx - vy + k wz) / r        with k = lx + ly
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Tuple

from vla_common.planar import Twist2D, ZERO_TWIST

WHEEL_NAMES = ('front_left', 'front_right', 'rear_left', 'rear_right')

WheelSpeeds = Tuple[float, float, float, float]


@dataclass(frozen=True)
class MecanumGeometry:
    """Wheel radius and wheel-centre offsets (half wheelbase lx, half track ly)."""

    wheel_radius: float = 0.05
    half_wheelbase: float = 0.15
    half_track: float = 0.15

    def __post_init__(self) -> None:
        for name in ('wheel_radius', 'half_wheelbase', 'half_track'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f'{name} must be a positive finite number, got {value!r}')

    @property
    def k(self) -> float:
        return self.half_wheelbase + self.half_track


def inverse_kinematics(twist: Twist2D, geometry: MecanumGeometry) -> WheelSpeeds:
    """Body twist -> wheel angular speeds (rad/s), order FL, FR, RL, RR."""
    r, k = geometry.wheel_radius, geometry.k
    vx, vy, kw = twist.vx, twist.vy, k * twist.wz
    return ((vx - vy - kw) / r, (vx + vy + kw) / r, (vx + vy - kw) / r, (vx - vy + kw) / r)


def forward_kinematics(wheels: Sequence[float], geometry: MecanumGeometry) -> Twist2D:
    """Wheel speeds (rad/s, FL, FR, RL, RR) -> body twist (least squares if inconsistent)."""
    if len(wheels) != 4:
        raise ValueError(f'expected 4 wheel speeds, got {len(wheels)}')
    fl, fr, rl, rr = (float(w) for w in wheels)
    r, k = geometry.wheel_radius, geometry.k
    return Twist2D(vx=r * (fl + fr + rl + rr) / 4.0,
                   vy=r * (-fl + fr + rl - rr) / 4.0,
                   wz=r * (-fl + fr - rl + rr) / (4.0 * k))


def saturate_wheels(wheels: Sequence[float], max_wheel_speed: float) -> Tuple[WheelSpeeds, float]:
    """Scale all wheel speeds by one factor so none exceeds `max_wheel_speed` (rad/s).

    Uniform scaling keeps the direction of the body twist (and its curvature); clipping each
    wheel alone would turn a diagonal strafe into a different motion. Returns the speeds and
    the scale applied (1.0 when nothing was limited). Non-finite input gives zeros, scale 0.
    """
    if max_wheel_speed <= 0.0 or not math.isfinite(max_wheel_speed):
        raise ValueError(f'max_wheel_speed must be positive and finite, got {max_wheel_speed!r}')
    values = [float(w) for w in wheels]
    if len(values) != 4:
        raise ValueError(f'expected 4 wheel speeds, got {len(values)}')
    if not all(math.isfinite(w) for w in values):
        return (0.0, 0.0, 0.0, 0.0), 0.0
    peak = max(abs(w) for w in values)
    scale = 1.0 if peak <= max_wheel_speed else max_wheel_speed / peak
    fl, fr, rl, rr = (w * scale for w in values)
    return (fl, fr, rl, rr), scale


def limit_twist(twist: Twist2D, max_linear: float, max_angular: float) -> Twist2D:
    """Scale a twist uniformly so |vx|, |vy| <= max_linear and |wz| <= max_angular."""
    if not twist.is_finite():
        return ZERO_TWIST
    ratios = [1.0]
    if abs(twist.vx) > max_linear:
        ratios.append(max_linear / abs(twist.vx))
    if abs(twist.vy) > max_linear:
        ratios.append(max_linear / abs(twist.vy))
    if abs(twist.wz) > max_angular:
        ratios.append(max_angular / abs(twist.wz))
    s = min(ratios)
    return Twist2D(twist.vx * s, twist.vy * s, twist.wz * s)
