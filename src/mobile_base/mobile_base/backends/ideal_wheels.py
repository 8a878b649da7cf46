"""`sim` backend: an ideal in-process wheel model (no MuJoCo, no hardware).

Each wheel follows its commanded speed with an optional acceleration limit, and its position
is integrated exactly; there is no slip, noise or latency. It exists to run `base_driver`
(and everything above it) on a desk; the physics simulator is the separate `mujoco_sim` node.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

from mobile_base.backends.base import BackendHealth, Speeds, WheelBackend, WheelFeedback


class IdealWheelSimBackend(WheelBackend):
    """Perfect wheels: speed tracks the command (rate-limited), positions are integrated."""

    name = 'sim'

    def __init__(self, max_wheel_accel: float = math.inf) -> None:
        if not max_wheel_accel > 0.0:
            raise ValueError('max_wheel_accel must be positive (inf = instantaneous)')
        self.max_wheel_accel = max_wheel_accel
        self._target: Speeds = (0.0, 0.0, 0.0, 0.0)
        self._speeds: Speeds = (0.0, 0.0, 0.0, 0.0)
        self._positions: Speeds = (0.0, 0.0, 0.0, 0.0)
        self._last: Optional[float] = None
        self._commands = 0

    def open(self, now: float) -> None:
        self._last = now

    def send(self, speeds: Sequence[float], now: float) -> None:
        fl, fr, rl, rr = (float(s) for s in speeds)
        self._advance(now)
        self._target = (fl, fr, rl, rr)
        self._commands += 1

    def stop(self, now: float) -> None:
        self._advance(now)
        self._target = (0.0, 0.0, 0.0, 0.0)
        self._speeds = (0.0, 0.0, 0.0, 0.0)

    def poll(self, now: float) -> List[WheelFeedback]:
        self._advance(now)
        return [WheelFeedback(now, self._speeds, self._positions)]

    def health(self, now: float) -> BackendHealth:
        return BackendHealth(True, '', {'commands': self._commands})

    def _advance(self, now: float) -> None:
        if self._last is None:
            self._last = now
            return
        dt = now - self._last
        if dt <= 0.0:
            return
        self._last = now
        new_speeds, new_pos = [], []
        for w, target, pos in zip(self._speeds, self._target, self._positions):
            step = self.max_wheel_accel * dt
            nw = target if abs(target - w) <= step else w + math.copysign(step, target - w)
            new_pos.append(pos + 0.5 * (w + nw) * dt)   # trapezoid over the ramp
            new_speeds.append(nw)
        self._speeds = (new_speeds[0], new_speeds[1], new_speeds[2], new_speeds[3])
        self._positions = (new_pos[0], new_pos[1], new_pos[2], new_pos[3])
