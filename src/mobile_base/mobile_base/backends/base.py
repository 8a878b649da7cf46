"""The wheel backend interface of `base_driver`: where commands go, where feedback comes from.

A backend is polled by the driver's control loop (one thread): `poll(now)` returns the
feedback that arrived since the last call, `send(speeds, now)` commands the wheels, and
`health(now)` says whether the backend may drive (a faulted backend keeps the wheels stopped
by itself; the driver also sends zeros). `now` is a monotonic clock in seconds.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

Speeds = Tuple[float, float, float, float]


@dataclass(frozen=True)
class WheelFeedback:
    """Measured wheel state (order FL, FR, RL, RR).

    `stamp` is the time base of the measurement (the board's clock for the serial backend,
    the polling clock for the ideal one): differences of consecutive stamps are the
    integration intervals. `positions` (rad, cumulative) are None when not measured.
    """

    stamp: float
    speeds: Speeds
    positions: Optional[Speeds] = None


@dataclass(frozen=True)
class BackendEvent:
    """Something the operator should know about (logged by the node, counted in diagnostics)."""

    level: str        # 'info', 'warn', 'error'
    kind: str         # e.g. 'checksum', 'silent', 'board_error', 'recovered'
    message: str


@dataclass(frozen=True)
class BackendHealth:
    ok: bool
    fault: str = ''
    counters: Dict[str, int] = field(default_factory=dict)


class WheelBackend(abc.ABC):
    """Interface every wheel backend implements."""

    name = 'abstract'

    @abc.abstractmethod
    def open(self, now: float) -> None:
        """Connect to the wheels (raise on failure)."""

    @abc.abstractmethod
    def send(self, speeds: Sequence[float], now: float) -> None:
        """Command wheel speeds (rad/s, FL, FR, RL, RR)."""

    @abc.abstractmethod
    def stop(self, now: float) -> None:
        """Stop the wheels now (brake)."""

    @abc.abstractmethod
    def poll(self, now: float) -> List[WheelFeedback]:
        """Feedback received since the previous poll, oldest first."""

    @abc.abstractmethod
    def health(self, now: float) -> BackendHealth:
        """Current health; `ok` False means the wheels are being kept stopped."""

    def events(self) -> List[BackendEvent]:
        """Events since the previous call (default: none)."""
        return []

    def close(self) -> None:
        """Release the device (stops the wheels first where possible)."""
