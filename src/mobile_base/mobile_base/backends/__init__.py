"""Wheel backends of base_driver: `serial` (motor-controller board) and `sim` (ideal wheels)."""

from __future__ import annotations

from typing import Any

from mobile_base.backends.base import (BackendEvent, BackendHealth, WheelBackend,
                                       WheelFeedback)

BACKENDS = ('serial', 'sim')


def make_backend(name: str, **kwargs: Any) -> WheelBackend:
    """Build a backend by name; keyword arguments go to its constructor."""
    if name == 'serial':
        from mobile_base.backends.serial_backend import SerialBackend
        return SerialBackend(**kwargs)
    if name == 'sim':
        from mobile_base.backends.ideal_wheels import IdealWheelSimBackend
        return IdealWheelSimBackend(**kwargs)
    raise ValueError(f'unknown wheel backend {name!r} (choose from {", ".join(BACKENDS)})')


__all__ = ['BACKENDS', 'BackendEvent', 'BackendHealth', 'make_backend', 'WheelBackend',
           'WheelFeedback']
