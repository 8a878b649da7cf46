"""The robot of docs/architecture.md as numbers: one place for the simulator, URDF and driver.

Defaults are the architecture's geometry; nodes override them from parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RobotSpec:
    """Mecanum base with a forward camera and a planar scanner (REP-103 axes, SI units)."""

    body_length: float = 0.40        # m along x
    body_width: float = 0.30         # m along y
    body_height: float = 0.15        # m, chassis box (bottom at wheel_radius - 0.03)
    wheel_radius: float = 0.05       # m
    wheel_width: float = 0.04        # m
    half_wheelbase: float = 0.15     # lx: wheel centres at x = +-lx
    half_track: float = 0.15         # ly: wheel centres at y = +-ly
    mass: float = 12.0               # kg, whole base
    camera_x: float = 0.20           # m, camera position in base_link
    camera_z: float = 0.25
    camera_pitch: float = math.radians(15.0)   # rad, positive = looking down
    camera_hfov: float = math.radians(80.0)    # rad, horizontal field of view
    laser_z: float = 0.15            # m, scan plane height at the base centre
    scan_range_min: float = 0.05     # m
    scan_range_max: float = 6.0      # m
    scan_increment: float = math.radians(1.0)  # rad, 360 beams
    max_linear: float = 0.5          # m/s per linear axis (safety limit of the seed design)
    max_angular: float = 1.0         # rad/s

    @property
    def bounding_radius(self) -> float:
        """Radius of the smallest circle around base_link containing the body footprint."""
        return math.hypot(0.5 * self.body_length, 0.5 * self.body_width)


DEFAULT_ROBOT = RobotSpec()
