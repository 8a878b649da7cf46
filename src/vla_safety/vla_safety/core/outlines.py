"""Outlines of what the base gate enforces, for visualisation (RViz / Foxglove markers).

Pure geometry: the geofence polygon (in the odometry frame) and the footprint, slowdown and
stop zones (in base_link) as closed polylines. A zone is every point within `distance` of
the rectangular footprint, so its outline is the footprint grown by `distance` with rounded
corners (quarter circles of radius `distance`), the same set ScanZones tests against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .geofence import GeofenceConfig, Polygon
from .scan_zones import ScanZoneConfig

Point = Tuple[float, float]


@dataclass(frozen=True)
class Outline:
    """A closed polyline (first point repeated at the end) in `frame` ('odom' or 'base')."""

    name: str
    frame: str
    points: Tuple[Point, ...]


def rounded_rectangle(half_length: float, half_width: float, radius: float,
                      segments: int = 8) -> Tuple[Point, ...]:
    """The rectangle [-hl, hl] x [-hw, hw] grown by `radius`, counter-clockwise, closed."""
    if radius <= 0.0:
        corners = [(half_length, -half_width), (half_length, half_width),
                   (-half_length, half_width), (-half_length, -half_width)]
        return tuple(corners + corners[:1])
    pts: List[Point] = []
    centres = [(half_length, -half_width, -math.pi / 2), (half_length, half_width, 0.0),
               (-half_length, half_width, math.pi / 2), (-half_length, -half_width, math.pi)]
    for cx, cy, start in centres:
        for k in range(segments + 1):
            a = start + (math.pi / 2) * k / segments
            pts.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    return tuple(pts + pts[:1])


def base_outlines(zones: ScanZoneConfig,
                  geofence: Optional[GeofenceConfig]) -> List[Outline]:
    """Footprint, slowdown zone, stop zone (base_link) and the geofence (odom), if enabled."""
    hl, hw = zones.footprint_length / 2.0, zones.footprint_width / 2.0
    out = [Outline('footprint', 'base', rounded_rectangle(hl, hw, 0.0)),
           Outline('slowdown_zone', 'base', rounded_rectangle(hl, hw, zones.slowdown_distance)),
           Outline('stop_zone', 'base', rounded_rectangle(hl, hw, zones.stop_distance))]
    if geofence is not None:
        vertices = Polygon.from_flat(geofence.polygon).vertices
        out.append(Outline('geofence', 'odom', tuple(vertices + vertices[:1])))
    return out
