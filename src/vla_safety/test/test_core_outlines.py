"""Marker outlines: the drawn zones are the sets the gate tests; the fence is its polygon."""

import math

import numpy as np
import pytest
from vla_safety.core.config import build
from vla_safety.core.outlines import base_outlines, rounded_rectangle
from vla_safety.core.scan_zones import ScanZoneConfig


def _distance_to_footprint(p, hl, hw):
    dx, dy = max(abs(p[0]) - hl, 0.0), max(abs(p[1]) - hw, 0.0)
    return math.hypot(dx, dy)


@pytest.mark.parametrize('radius', [0.1, 0.4])
def test_zone_outline_is_at_the_zone_distance_from_the_footprint(radius):
    pts = rounded_rectangle(0.2, 0.15, radius)
    assert pts[0] == pts[-1], 'closed'
    for p in pts:
        assert _distance_to_footprint(p, 0.2, 0.15) == pytest.approx(radius, abs=1e-9)
    area = 0.5 * abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(pts, pts[1:])))
    assert area > 0.4 * 0.3, 'counter-clockwise, encloses the footprint'


def test_base_outlines_follow_the_configuration():
    _, config = build({'scan.stop_distance': 0.12, 'scan.slowdown_distance': 0.5,
                       'geofence.polygon': [0.0, 0.0, 3.0, 0.0, 3.0, 2.0, 0.0, 2.0]})
    outlines = {o.name: o for o in base_outlines(config.zones, config.geofence)}
    assert set(outlines) == {'footprint', 'slowdown_zone', 'stop_zone', 'geofence'}
    assert outlines['geofence'].frame == 'odom' and outlines['stop_zone'].frame == 'base'
    fence = np.array(outlines['geofence'].points)
    assert {tuple(p) for p in fence} == {(0.0, 0.0), (3.0, 0.0), (3.0, 2.0), (0.0, 2.0)}
    hl, hw = config.zones.footprint_length / 2, config.zones.footprint_width / 2
    for name, distance in (('stop_zone', 0.12), ('slowdown_zone', 0.5)):
        for p in outlines[name].points:
            assert _distance_to_footprint(p, hl, hw) == pytest.approx(distance)
    _, no_fence = build({'geofence.enabled': False})
    assert 'geofence' not in {o.name for o in base_outlines(no_fence.zones, no_fence.geofence)}
    assert ScanZoneConfig().stop_distance > 0
