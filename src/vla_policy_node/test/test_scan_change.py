"""The laser's scene-change trigger: free-space intrusions between consecutive scans.

Scans are ray-cast here against boxes in a walled room (1 deg beams, 360 of them, as the
simulator's and an RPLIDAR's), with range noise where it matters; the executive part runs
on the simulated clock of test_executive.
"""

from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import numpy as np
import pytest
from test_executive import running
from vla_policy_node.execution.scan_change import (compose, intrusions, PlanarScan,
                                                   ScanChangeConfig, ScanChangeDetector,
                                                   ScanChangeError)

Box = Tuple[float, float, float, float]          # centre x, y, half-length x, half-width y
ROOM: Box = (1.5, 0.0, 3.0, 2.0)                 # walls: the inside of this one
INC = math.radians(1.0)


def cast(pose: Tuple[float, float, float], boxes: Sequence[Box], noise: float = 0.0,
         rng: np.random.Generator = np.random.default_rng(0)) -> np.ndarray:
    """360 ranges from `pose` (laser in the odom frame) against axis-aligned boxes + room."""
    angles = pose[2] - math.pi + INC * np.arange(360)
    dx, dy = np.cos(angles), np.sin(angles)
    best = np.full(360, np.inf)
    segments: List[Tuple[float, float, float, float]] = []
    for cx, cy, hx, hy in list(boxes) + [ROOM]:
        c = [(cx - hx, cy - hy), (cx + hx, cy - hy), (cx + hx, cy + hy), (cx - hx, cy + hy)]
        segments += [(*c[i], *c[(i + 1) % 4]) for i in range(4)]
    for x1, y1, x2, y2 in segments:
        ex, ey = x2 - x1, y2 - y1
        den = dx * ey - dy * ex
        with np.errstate(divide='ignore', invalid='ignore'):
            t = ((x1 - pose[0]) * ey - (y1 - pose[1]) * ex) / den
            u = ((x1 - pose[0]) * dy - (y1 - pose[1]) * dx) / den
        hit = (np.abs(den) > 1e-12) & (t > 0) & (u >= 0) & (u <= 1)
        best = np.where(hit & (t < best), t, best)
    return best + (rng.normal(0.0, noise, 360) if noise else 0.0)


def scan(pose, boxes, stamp=0.0, noise=0.0, rng=np.random.default_rng(0)) -> PlanarScan:
    return PlanarScan.of(-math.pi, INC, 0.05, 6.0, cast(pose, boxes, noise, rng), stamp)


BOX: Box = (1.2, 0.0, 0.15, 0.25)


def count(p0, boxes0, p1, boxes1, noise=0.0) -> int:
    rng = np.random.default_rng(1)
    return intrusions(scan(p0, boxes0, 0.0, noise, rng), p0, scan(p1, boxes1, 0.1, noise, rng),
                      p1, tolerance=0.08, max_range=2.5)


@pytest.mark.parametrize('p0, p1', [
    ((0.0, 0.0, 0.0), (0.04, 0.0, 0.0)),        # driving at the box
    ((0.0, 0.3, 0.0), (0.03, 0.33, 0.0)),       # past its edge: the wall behind appears
    ((0.6, 0.45, 0.0), (0.63, 0.45, 0.0)),      # beside it
    ((0.0, 0.0, 0.0), (0.0, 0.0, 0.06)),        # turning on the spot
    ((0.5, -0.4, 0.3), (0.53, -0.37, 0.35)),    # both
])
def test_ego_motion_in_a_static_scene_enters_no_free_space(p0, p1):
    assert count(p0, [BOX], p1, [BOX], noise=0.02) == 0


@pytest.mark.parametrize('change', [
    [(1.2, 0.15, 0.15, 0.25)],                      # the box slides 0.15 m sideways
    [BOX, (1.2, 0.45, 0.125, 0.125)],               # a second box appears beside it
    [BOX, (-0.6, 0.2, 0.125, 0.125)],               # ... or behind the robot (no camera)
])
def test_an_object_moving_into_or_appearing_in_free_space_is_seen(change):
    p0, p1 = (0.2, 0.0, 0.0), (0.23, 0.0, 0.02)
    assert count(p0, [BOX], p1, change, noise=0.02) >= 4


def test_a_box_that_moves_away_claims_no_space():
    # what it uncovers lies farther than before: not an intrusion (it frees space)
    assert count((0.2, 0.0, 0.0), [BOX], (0.2, 0.0, 0.0), [(1.6, 0.0, 0.15, 0.25)]) == 0


def test_the_laser_mount_places_the_scans():
    mount = (0.2, 0.0, math.pi)                      # mounted backwards, ahead of the centre
    b0, b1 = (0.0, 0.0, 0.0), (0.05, 0.0, 0.0)
    scans = [scan(compose(b, mount), [BOX], stamp=0.1 * i) for i, b in enumerate((b0, b1))]
    for cfg_mount, expect_quiet in ((mount, True), ((0.0, 0.0, 0.0), False)):
        det = ScanChangeDetector(ScanChangeConfig(min_points=4, mount=cfg_mount))
        det.on_pose(*b0)
        assert det.on_scan(scans[0]) == 0
        det.on_pose(*b1)
        assert (det.on_scan(scans[1]) == 0) is expect_quiet


def test_the_detector_compares_only_what_it_can():
    det = ScanChangeDetector(ScanChangeConfig(min_points=4, max_gap=0.5))
    s0, s1 = scan((0, 0, 0), [BOX], 1.0), scan((0, 0, 0), [BOX, (0.6, 0.5, 0.1, 0.1)], 1.1)
    assert det.on_scan(s0) == 0                      # no pose yet
    det.on_pose(0.0, 0.0, 0.0)
    det.on_pose(float('nan'), 0.0, 0.0)              # a bad pose is ignored
    assert det.on_scan(s0) == 0                      # nothing to compare with
    assert det.on_scan(s1) >= 4
    assert det.on_scan(s0) == 0                      # older stamp: ignored
    late = scan((0, 0, 0), [BOX], 1.7)
    assert det.on_scan(late) == 0                    # a 0.6 s gap: a new reference
    other = PlanarScan.of(-math.pi, INC, 0.05, 6.0, cast((0, 0, 0), [BOX])[:180], 1.8)
    assert det.on_scan(other) == 0                   # other beam geometry: a new reference
    off = ScanChangeDetector(ScanChangeConfig(min_points=0))
    off.on_pose(0.0, 0.0, 0.0)
    assert off.on_scan(s0) == off.on_scan(s1) == 0


def test_missing_and_too_close_readings_claim_no_free_space():
    r0 = cast((0, 0, 0), [BOX])
    behind = np.r_[0:12, 348:360]                    # beams within 12 deg of straight back
    r0[behind] = np.nan                              # no reading there
    r1 = cast((0, 0, 0), [BOX, (-0.8, 0.0, 0.1, 0.1)])
    a, b = (PlanarScan.of(-math.pi, INC, 0.05, 6.0, r, 0.0) for r in (r0, r1))
    assert intrusions(a, (0, 0, 0), b, (0, 0, 0), 0.08, 2.5) == 0
    r0[behind] = -np.inf
    a = PlanarScan.of(-math.pi, INC, 0.05, 6.0, r0, 0.0)
    assert intrusions(a, (0, 0, 0), b, (0, 0, 0), 0.08, 2.5) == 0


@pytest.mark.parametrize('args', [
    (float('nan'), INC, 0.05, 6.0, [1.0, 1.0]),
    (-math.pi, 0.0, 0.05, 6.0, [1.0, 1.0]),
    (-math.pi, INC, 0.05, 6.0, [1.0]),
    (-math.pi, INC, 6.0, 0.05, [1.0, 1.0]),
])
def test_unusable_scan_geometry_is_refused(args):
    with pytest.raises(ScanChangeError):
        PlanarScan.of(*args)


@pytest.mark.parametrize('kw', [dict(min_points=-1), dict(tolerance=0.0),
                                dict(mount=(0.0, float('inf'), 0.0))])
def test_config_validation(kw):
    with pytest.raises(ValueError):
        ScanChangeConfig(**kw)


# ------------------------------------------------------------------------------ executive

def test_a_laser_change_is_served_with_the_first_frame_taken_after_the_scan():
    """The change is out of the camera's view: the image does not change, the scan does.
    The inference waits for a frame stamped at or after the scan (the policy acts on what it
    sees), then runs as a scene change and its chunk acts at once."""
    sim = running(latency=0.05)
    ex = sim.ex
    ex.on_state(np.zeros(3), 0, sim.t, pose=(0.2, 0.0, 0.0))
    geometry = (-math.pi, INC, 0.05, 6.0)
    sim.apply(ex.on_scan(geometry, cast((0.2, 0, 0), [BOX]), int(sim.t * 1e9), sim.t))
    sim.run(sim.t + 0.2)
    jobs = len(sim.jobs)
    t_scan = sim.t + 0.01                             # between two camera frames (30 Hz)
    sim.run(t_scan)
    behind = [BOX, (-0.6, 0.2, 0.125, 0.125)]
    out = sim.apply(ex.on_scan(geometry, cast((0.2, 0, 0), behind), int(t_scan * 1e9), t_scan))
    assert not out.jobs and ex.counters['scan_changes'] == 1   # the frame it needs is not here
    sim.run(t_scan + 0.2)
    event = sim.jobs[jobs]
    assert event.decision.reason == 'scene_change' and 'laser' in event.decision.detail
    assert t_scan <= event.submitted <= t_scan + 1 / 30 + 1e-9   # the next frame (30 Hz)
    assert event.image_stamp_ns >= int(t_scan * 1e9)
    assert any(t == pytest.approx(event.submitted + 0.05) for t in sim.arrivals)
    # a broken scan is refused with a warning, never a trigger
    sim.apply(ex.on_scan((-math.pi, 0.0, 0.05, 6.0), [1.0, 1.0], int(sim.t * 1e9), sim.t))
    assert ex.counters['scans_rejected'] == 1
    assert any('laser scan ignored' in text for level, text in sim.logs if level == 'warning')
