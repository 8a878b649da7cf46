"""The decision logic of `base_driver`: command -> wheel speeds, wheel feedback -> odometry.

The driver is the second line of defence behind the safety gate: it zeroes the wheels when
`cmd_vel` stops arriving (`cmd_timeout`), refuses non-finite commands, caps the twist and
saturates wheel speeds preserving direction. Times are seconds on the caller's clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from mobile_base.core.kinematics import (inverse_kinematics, limit_twist, MecanumGeometry,
                                         saturate_wheels, Twist2D, WheelSpeeds, ZERO_TWIST)
from mobile_base.core.odometry import OdometryIntegrator, OdometryState

ZERO_WHEELS: WheelSpeeds = (0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class DriverConfig:
    geometry: MecanumGeometry = MecanumGeometry()
    max_wheel_speed: float = 12.0      # rad/s (0.6 m/s at r = 0.05)
    max_linear: float = 0.5            # m/s per axis, hard cap (the gate's limit)
    max_angular: float = 1.0           # rad/s
    cmd_timeout: float = 0.5           # s without cmd_vel -> wheels zero

    def validate(self) -> 'DriverConfig':
        for name in ('max_wheel_speed', 'max_linear', 'max_angular', 'cmd_timeout'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f'{name} must be positive and finite, got {value!r}')
        return self


@dataclass(frozen=True)
class WheelDecision:
    """What the driver commands and why."""

    speeds: WheelSpeeds
    twist: Twist2D              # body twist the speeds realise (after caps and saturation)
    reason: str                 # 'ok', 'saturated', 'no_command', 'cmd_timeout', 'fault'


class DriverCore:
    """Command side and odometry side of the base driver."""

    def __init__(self, config: DriverConfig = DriverConfig()) -> None:
        self.config = config.validate()
        self.odometry = OdometryIntegrator(config.geometry)
        self._cmd = ZERO_TWIST
        self._cmd_time: Optional[float] = None
        self.rejected = 0
        self._last_positions: Optional[Tuple[float, ...]] = None
        self._last_stamp: Optional[float] = None

    # --- Commands ------------------------------------------------------------------------------
    def on_command(self, twist: Twist2D, now: float) -> bool:
        """Store a cmd_vel; a non-finite one is refused (counted) and acts as zero."""
        if not twist.is_finite():
            self.rejected += 1
            self._cmd, self._cmd_time = ZERO_TWIST, now
            return False
        self._cmd, self._cmd_time = twist, now
        return True

    def decide(self, now: float, backend_ok: bool = True) -> WheelDecision:
        """Wheel speeds to send now."""
        if not backend_ok:
            return WheelDecision(ZERO_WHEELS, ZERO_TWIST, 'fault')
        if self._cmd_time is None:
            return WheelDecision(ZERO_WHEELS, ZERO_TWIST, 'no_command')
        if now - self._cmd_time > self.config.cmd_timeout:
            return WheelDecision(ZERO_WHEELS, ZERO_TWIST, 'cmd_timeout')
        cfg = self.config
        twist = limit_twist(self._cmd, cfg.max_linear, cfg.max_angular)
        wheels, scale = saturate_wheels(inverse_kinematics(twist, cfg.geometry),
                                        cfg.max_wheel_speed)
        if scale < 1.0:
            twist = Twist2D(twist.vx * scale, twist.vy * scale, twist.wz * scale)
        limited = scale < 1.0 or twist != self._cmd
        return WheelDecision(wheels, twist, 'saturated' if limited else 'ok')

    # --- Feedback ------------------------------------------------------------------------------
    def on_feedback(self, stamp: float, speeds: Sequence[float],
                    positions: Optional[Sequence[float]] = None) -> Optional[OdometryState]:
        """Integrate one wheel measurement; None if it is out of order (ignored).

        With positions (encoder ticks), the wheel motion between two reports is the
        position difference (nothing is lost when a report is dropped); otherwise the
        reported speeds are integrated.
        """
        if self._last_stamp is not None and stamp <= self._last_stamp:
            return None
        wheel_speeds = [float(s) for s in speeds]
        if positions is not None and self._last_positions is not None \
                and self._last_stamp is not None:
            dt = stamp - self._last_stamp
            wheel_speeds = [(p - q) / dt for p, q in zip(positions, self._last_positions)]
        if positions is not None:
            self._last_positions = tuple(float(p) for p in positions)
        if self._last_stamp is None:
            self.odometry.reset(self.odometry.pose, stamp)
        self._last_stamp = stamp
        if not all(math.isfinite(w) for w in wheel_speeds):
            return None
        return self.odometry.update_wheels(wheel_speeds, stamp)

    def reset_feedback(self) -> None:
        """Forget the previous measurement (after a device reconnect or a time jump)."""
        self._last_positions = None
        self._last_stamp = None
