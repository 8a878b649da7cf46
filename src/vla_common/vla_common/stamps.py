"""builtin_interfaces/Time <-> seconds (sim time and wall time alike)."""

from __future__ import annotations

import math
from typing import Any

from builtin_interfaces.msg import Time


def time_msg(seconds: float) -> Time:
    """builtin_interfaces/Time from seconds (non-negative)."""
    seconds = max(0.0, seconds)
    sec = int(math.floor(seconds))
    nsec = int(round((seconds - sec) * 1e9))
    if nsec >= 1_000_000_000:
        sec, nsec = sec + 1, nsec - 1_000_000_000
    return Time(sec=sec, nanosec=nsec)


def to_seconds(stamp: Any) -> float:
    """Seconds of a builtin_interfaces/Time (or anything with sec and nanosec)."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9
