"""Fuzz with independent oracles: what the gate lets out, judged by code that shares nothing
with it.

Hypothesis drives every input of the gate (base: `cmd_vel_in`, `odom`, `scan`, `heartbeat`,
`estop`, the trigger/reset services and the clock; arm: `arm_cmd_in`, `joint_states`,
`heartbeat`, `estop`, reset and the clock) with sane and hostile values, and closes the loop:
the outputs are integrated by a simulated robot whose state is fed back as odometry / joint
states. After every decision:

- limits are checked against values read here from the shipped parameter files with PyYAML
  (not through `vla_safety.core.config`);
- geofence: the integrated base centre never leaves the fence polygon shrunk by ... nothing:
  it stays inside the fence by at least its margin minus a small integration tolerance
  (own point-in-polygon and edge-distance code);
- obstacles: every output that moves the footprint brings it no closer to a scan point that is
  already within the stop distance (own footprint distance, finite-difference motion; REP-117
  "too close" readings, -Inf and below range_min, are obstacles at range_min);
- arm: joint targets inside the URDF limits minus the margin, steps within the per-tick limits,
  and the integrated end effector (own forward kinematics from the RM75 URDF joint origins,
  own damped least-squares IK for end-effector deltas) never leaves the workspace box.

CI runs a few thousand cases (`VLA_FUZZ_EXAMPLES`, default below); the benchmark
`benchmarks/fuzz_oracles.py` runs >= 10 000 and prints the distributions.
"""

from __future__ import annotations

import json
import math
import os
import pathlib

import numpy as np
import pytest
import yaml
from hypothesis import given, HealthCheck, settings, strategies as st
from vla_common.planar import Twist2D
from vla_safety.core.config import build
from vla_safety.core.gate import (ARM_MODE_EE_DELTA, ARM_MODE_HOLD, ARM_MODE_JOINT_POSITION,
                                  ARM_MODE_STOP, ArmGate, ArmInput, BaseGate)
from vla_testing.gate_events import GateEvents

CONFIG = pathlib.Path(__file__).resolve().parents[1] / 'config'
EXAMPLES = int(os.environ.get('VLA_FUZZ_EXAMPLES', '1200'))
STATS = os.environ.get('VLA_FUZZ_STATS', '')
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TOL = 1e-9


def _params(name):
    doc = yaml.safe_load((CONFIG / name).read_text())
    return next(iter(doc.values()))['ros__parameters']


BASE = _params('safety_gate.param.yaml')
ARM = _params('safety_gate_arm.param.yaml')


def _flat(params, prefix=''):
    out = {}
    for k, v in params.items():
        if isinstance(v, dict):
            out.update(_flat(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


BASE_FLAT = _flat(BASE)
ARM_FLAT = _flat(ARM)
_stats = {'base_cases': 0, 'base_steps': 0, 'base_moving': 0, 'fence_clearance': [],
          'obstacle_checks': 0, 'arm_cases': 0, 'arm_steps': 0, 'arm_moves': 0,
          'box_clearance': []}


def teardown_module(module):
    if STATS:
        with open(STATS, 'w') as f:
            json.dump(_stats, f)


# --- base oracles ------------------------------------------------------------------------------
def polygon(flat):
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def signed_clearance(p, poly):
    """Distance from p to the polygon boundary, positive inside, negative outside."""
    x, y = p
    inside = False
    best = math.inf
    n = len(poly)
    for i in range(n):
        (ax, ay), (bx, by) = poly[i], poly[(i + 1) % n]
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
        ex, ey = bx - ax, by - ay
        u = max(0.0, min(1.0, ((x - ax) * ex + (y - ay) * ey) / (ex * ex + ey * ey)))
        best = min(best, math.hypot(x - ax - u * ex, y - ay - u * ey))
    return best if inside else -best


def footprint_distance(point, pose_delta, length, width):
    """Distance from a body-frame point to the footprint rectangle moved by (dx, dy, dth)."""
    dx, dy, dth = pose_delta
    c, s = math.cos(-dth), math.sin(-dth)
    px, py = point[0] - dx, point[1] - dy
    qx, qy = c * px - s * py, s * px + c * py      # the point in the moved body frame
    ex = max(abs(qx) - length / 2.0, 0.0)
    ey = max(abs(qy) - width / 2.0, 0.0)
    return math.hypot(ex, ey)


def scan_points(angle_min, increment, range_min, range_max, ranges, laser):
    """REP-117 as this oracle reads it: finite readings within [range_min, range_max] are
    obstacles; -Inf and readings below range_min are "too close": an obstacle at range_min on
    that beam; NaN, +Inf and readings above range_max are nothing."""
    lx, ly, lyaw = laser
    pts = []
    for i, r in enumerate(ranges):
        a = angle_min + i * increment + lyaw
        if r == -math.inf or (math.isfinite(r) and r < range_min):
            r = range_min
        if math.isfinite(r) and range_min <= r <= range_max and math.isfinite(a):
            pts.append((lx + r * math.cos(a), ly + r * math.sin(a)))
    return pts


class ClosedLoop(GateEvents):
    """A gate in a closed loop: the events every gate takes (its command, heartbeat, e-stop,
    reset) are played by GateEvents, the loop's own (clock, sensors) by `feed`, and a 'drive'
    event is one control period of a live policy (`drive`); every event ends with a decision
    the oracles check."""

    def drive(self, args):
        raise NotImplementedError

    def play(self, events):
        for kind, args in events:
            if kind == 'drive':
                self.drive(args)
            else:
                self.event(kind, args)


class BaseWorld(ClosedLoop):
    """The gate in a closed loop with an integrated holonomic base."""

    command_event, command_type = 'cmd_vel_in', Twist2D

    def __init__(self, overrides, start):
        self.settings, cfg = build(overrides)
        self.gate = BaseGate(cfg)
        self.flat = dict(BASE_FLAT, **overrides)
        self.now = 0.0
        self.pose = list(start)
        self.last = None            # (time, output) of the previous decision
        self.points = None          # oracle's view of the latest accepted scan
        self.scan_time = None
        self.odom_alive = True
        self.fence = polygon(self.flat['geofence.polygon'])
        self.start_clearance = signed_clearance(start[:2], self.fence)
        self.blind = 0.0            # distance driven since the gate last got odometry
        self.min_clearance = math.inf

    # inputs ---------------------------------------------------------------------------------
    def advance(self, dt):
        if self.last is not None and dt > 0:
            # Integrate what was last sent (body frame) until now, like the wheels would.
            vx, vy, wz = self.last[1].as_tuple()
            steps = max(1, int(math.ceil(dt / 0.005)))
            h = dt / steps
            self.blind += math.hypot(vx, vy) * dt
            for _ in range(steps):
                th = self.pose[2]
                self.pose[0] += (vx * math.cos(th) - vy * math.sin(th)) * h
                self.pose[1] += (vx * math.sin(th) + vy * math.cos(th)) * h
                self.pose[2] += wz * h
        self.now += dt

    def feed(self, kind, args, t):
        g = self.gate
        if kind == 'clock':
            self.advance(max(args[0], 0.0))
            if args[0] < 0:
                self.now += args[0]          # a clock that jumps back (sim reset)
        elif kind == 'odom':
            if self.odom_alive and g.on_odom(self.pose[0], self.pose[1], self.pose[2], t):
                self.blind = 0.0
        elif kind == 'odom_garbage':
            g.on_odom(*args, t)
        elif kind == 'odom_dies':
            self.odom_alive = not self.odom_alive
        elif kind == 'scan':
            angle_min, inc, ranges = args
            if g.on_scan(angle_min, inc, 0.05, 6.0, ranges, t):
                laser = (self.flat['scan.laser_x'], self.flat['scan.laser_y'],
                         self.flat['scan.laser_yaw'])
                self.points = scan_points(angle_min, inc, 0.05, 6.0, ranges, laser)
                self.scan_time = t

    def drive(self, args):
        """One control period of a live policy, with a scan that has an obstacle at a given
        bearing and range."""
        vx, vy, wz, bearing, rng = args
        self.event('heartbeat', ())
        self.event('odom', ())
        ranges = [5.0] * 36
        ranges[int(bearing) % 36] = rng if rng > 0.07 else -math.inf   # too close
        self.event('scan', (-math.pi, math.pi / 18, ranges))
        self.event('cmd_vel_in', (vx, vy, wz))
        self.event('clock', (0.02,))

    # oracles --------------------------------------------------------------------------------
    def check(self, d):
        f = self.flat
        vx, vy, wz = d.cmd.as_tuple()
        assert all(math.isfinite(v) for v in (vx, vy, wz)), d
        cap_lin = f['hard_caps.max_linear_velocity']
        assert -min(f['limits.max_vel_x_backward'], cap_lin) - TOL <= vx, d
        assert vx <= min(f['limits.max_vel_x_forward'], cap_lin) + TOL, d
        assert abs(vy) <= min(f['limits.max_vel_y'], cap_lin) + TOL, d
        assert abs(wz) <= min(f['limits.max_vel_yaw'],
                              f['hard_caps.max_angular_velocity']) + TOL, d
        if f['limits.max_planar_speed'] > 0:
            assert math.hypot(vx, vy) <= f['limits.max_planar_speed'] + TOL, d
        if self.gate.supervisor.estop.engaged:
            assert (vx, vy, wz) == (0.0, 0.0, 0.0), d
        moving = (vx, vy, wz) != (0.0, 0.0, 0.0)
        _stats['base_steps'] += 1
        _stats['base_moving'] += moving
        # Acceleration: against the previous output and the time since, limits from the file.
        if self.last is not None:
            dt = max(0.0, min(self.now - self.last[0], 2.0 / f['rate']))
            pv = self.last[1].as_tuple()
            for new, old, up in ((vx, pv[0], f['limits.max_accel_x']),
                                 (vy, pv[1], f['limits.max_accel_y']),
                                 (wz, pv[2], f['limits.max_accel_yaw'])):
                assert abs(new) - abs(old) <= up * dt + 1e-6, (new, old, dt, d)
        # Obstacles: no motion towards a point already in the stop zone of a fresh scan.
        if moving and self.points and self.scan_time is not None \
                and 0.0 <= self.now - self.scan_time <= f['scan_timeout']:
            eps = 1e-3
            delta = (vx * eps, vy * eps, wz * eps)
            for p in self.points:
                d0 = footprint_distance(p, (0.0, 0.0, 0.0), f['footprint.length'],
                                        f['footprint.width'])
                if d0 <= f['scan.stop_distance']:
                    d1 = footprint_distance(p, delta, f['footprint.length'],
                                            f['footprint.width'])
                    _stats['obstacle_checks'] += 1
                    # first order: a tangential (grazing) motion is allowed, its eps^2 is not
                    assert d1 >= d0 - 1e-6 or d0 == 0.0 and d1 == 0.0, (p, d0, d1, d)
        # Geofence: the integrated centre keeps its margin (less an integration tolerance);
        # a base that started outside the band only has to not lose ground. What it drove
        # since its last odometry (which the gate cannot know; it stops once odometry is
        # older than odom_timeout) is allowed on top.
        if f['geofence.enabled']:
            clearance = signed_clearance(self.pose[:2], self.fence)
            bound = min(f['geofence.margin'], self.start_clearance) - self.blind - 0.01
            assert clearance >= bound, (self.pose, clearance, bound, self.blind)
            self.min_clearance = min(self.min_clearance, clearance - f['geofence.margin'])
        self.last = (self.now, d.cmd)


finite = st.floats(-3.0, 3.0)
nasty = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from([0.0, 1e308, -1e308, 0.5, -0.5, 1e-12]))
reading = st.one_of(st.floats(0.0, 7.0),
                    st.sampled_from([math.nan, math.inf, -math.inf, 0.01, 0.06, 0.12]))
base_event = st.one_of(
    st.tuples(st.just('clock'), st.tuples(st.sampled_from([0.02, 0.02, 0.02, 0.01, 0.0]))),
    st.tuples(st.just('clock'), st.tuples(st.floats(-0.1, 0.8))),
    st.tuples(st.just('cmd_vel_in'), st.tuples(finite, finite, finite)),
    st.tuples(st.just('cmd_vel_in'), st.tuples(nasty, nasty, nasty)),
    st.tuples(st.just('odom'), st.just(())),
    st.tuples(st.just('odom'), st.just(())),
    # non-finite poses (dropped by the gate); finite lies about the pose are not its to catch
    st.tuples(st.just('odom_garbage'), st.tuples(
        st.sampled_from([math.nan, math.inf, -math.inf]), nasty, nasty)),
    st.tuples(st.just('odom_dies'), st.just(())),
    st.tuples(st.just('scan'), st.tuples(st.just(-math.pi), st.just(math.pi / 18),
                                         st.lists(reading, min_size=36, max_size=36))),
    st.tuples(st.just('scan'), st.tuples(nasty, nasty, st.lists(nasty, max_size=12))),
    st.tuples(st.just('heartbeat'), st.just(())),
    st.tuples(st.just('heartbeat'), st.just(())),
    st.tuples(st.just('estop'), st.tuples(st.booleans())),
    st.tuples(st.just('reset_estop'), st.just(())),
)
# Mostly a driving policy: fresh heartbeats, odometry and commands, so the robot does move.
drive = st.lists(st.sampled_from(['heartbeat', 'odom', 'cmd']), min_size=1, max_size=1)
start_pose = st.tuples(st.floats(-4.9, 4.9), st.floats(-4.9, 4.9), st.floats(-3.2, 3.2))
overrides = st.sampled_from([
    {}, {'limits.preserve_direction': False},
    {'limits.max_vel_y': 0.0, 'limits.max_planar_speed': 0.0},
    {'require_scan': False, 'geofence.polygon': [-1.0, -1.0, 1.5, -1.2, 1.0, 1.4, -1.2, 0.8]},
    {'require_scan': False, 'geofence.margin': 0.5, 'geofence.horizon': 1.0},
])


@FUZZ
@given(st.lists(st.one_of(base_event, st.tuples(st.just('drive'), st.tuples(
    finite, finite, finite, st.integers(0, 35), st.floats(0.05, 0.6)))),
    min_size=1, max_size=60), overrides, start_pose)
def test_base_gate_against_independent_oracles(events, overrides, start):
    world = BaseWorld(overrides, start)
    _stats['base_cases'] += 1
    world.play(events)
    if world.min_clearance < math.inf:
        _stats['fence_clearance'].append(round(world.min_clearance, 4))


def test_the_base_oracles_see_motion_and_fence_contact():
    """Not vacuous: the loop drives into the fence, and the fence oracle is binding there."""
    world = BaseWorld({'require_scan': False}, (4.0, 0.0, 0.0))
    for _ in range(400):
        world.event('heartbeat', ())
        world.event('odom', ())
        world.event('cmd_vel_in', (0.5, 0.0, 0.0))
        world.event('clock', (0.02,))
    clearance = signed_clearance(world.pose[:2], world.fence)
    assert 4.5 < world.pose[0] and clearance < BASE_FLAT['geofence.margin'] + 0.02
    # The oracle itself: a centre outside the fence is negative, inside positive.
    square = polygon(BASE_FLAT['geofence.polygon'])
    assert signed_clearance((5.5, 0.0), square) == pytest.approx(-0.5)
    assert signed_clearance((4.0, 0.0), square) == pytest.approx(1.0)
    assert footprint_distance((0.5, 0.0), (0.0, 0.0, 0.0), 0.4, 0.3) == pytest.approx(0.3)
    assert footprint_distance((0.5, 0.0), (0.1, 0.0, 0.0), 0.4, 0.3) == pytest.approx(0.2)


# --- arm oracles -------------------------------------------------------------------------------
# RealMan RM75, rm_description/urdf/rm_75.urdf (joint origin xyz, rpy, axis), as written there.
RM75_URDF = (
    ((0, 0, 0.2405), (-1.5708, 0, 0), (0, -1, 0)),
    ((0, 0, 0), (1.5708, 0, 0), (0, 1, 0)),
    ((0, 0, 0.256), (-1.5708, 0, 0), (0, -1, 0)),
    ((0, 0, 0), (1.5708, 0, 0), (0, 1, 0)),
    ((0, 0, 0.21), (-1.5708, 0, 0), (0, -1, 0)),
    ((0, 0, 0), (1.5708, 0, 0), (0, 1, 0)),
    ((0, 0, 0.144), (0, 0, 0), (0, 0, 1)),
)
RM75_LIMITS = ((-3.1, 3.1), (-2.268, 2.268), (-3.1, 3.1), (-2.355, 2.355), (-3.1, 3.1),
               (-2.233, 2.233), (-6.28, 6.28))
RM75_MAX_VELOCITY = (3.14, 3.14, 3.92, 3.92, 3.92, 3.92, 3.92)


def _rot(axis, angle):
    """Rotation matrix about a unit axis (Rodrigues)."""
    k = np.asarray(axis, dtype=float)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * kx + (1 - math.cos(angle)) * kx @ kx


def _homogeneous(xyz, rpy, axis, q):
    t = np.eye(4)
    r, p, y = rpy
    t[:3, :3] = _rot((0, 0, 1), y) @ _rot((0, 1, 0), p) @ _rot((1, 0, 0), r) @ _rot(axis, q)
    t[:3, 3] = xyz
    return t


def oracle_fk(q, tool=(0.0, 0.0, 0.0)):
    t = np.eye(4)
    for (xyz, rpy, axis), angle in zip(RM75_URDF, q):
        t = t @ _homogeneous(xyz, rpy, axis, angle)
    return (t @ np.array([*tool, 1.0]))[:3]


def within_urdf_limits(q):
    return [max(lo, min(hi, v)) for v, (lo, hi) in zip(q, RM75_LIMITS)]


def _outside(v, band):
    return max(band[0] - v, 0.0, v - band[1])


def box_clearance(p, lo, hi):
    """Signed distance to the box faces: positive inside (min over faces), negative outside."""
    inside = min(min(x - a, b - x) for x, a, b in zip(p, lo, hi))
    if inside >= 0:
        return inside
    return -math.sqrt(sum(max(a - x, 0.0, x - b) ** 2 for x, a, b in zip(p, lo, hi)))


class ArmWorld(ClosedLoop):
    """The arm gate in a closed loop with a kinematic RM75: joint targets are tracked
    exactly, end-effector deltas are executed by damped least-squares IK."""

    command_event, command_type = 'arm_cmd_in', ArmInput

    def __init__(self, q0):
        self.settings, self.cfg = build({'mode': 'arm'})
        self.gate = ArmGate(self.cfg)
        self.f = ARM_FLAT
        assert self.f['arm.model'] == 'RM75'      # the oracle's own chain is the RM75's
        self.names = [f'joint{i}' for i in range(1, 8)]     # rm_driver's names
        self.q = np.array(q0, dtype=float)
        self.measured = None        # the joints the gate was last given
        self.now = 0.0
        self.ref = None
        lo, hi = self.f['arm.workspace_min'], self.f['arm.workspace_max']
        self.start_clearance = box_clearance(oracle_fk(self.q), lo, hi)
        self.min_clearance = math.inf

    def ik_step(self, dp):
        p0 = oracle_fk(self.q)
        jac = np.zeros((3, len(self.q)))
        for i in range(len(self.q)):
            dq = np.zeros(len(self.q))
            dq[i] = 1e-6
            jac[:, i] = (oracle_fk(self.q + dq) - p0) / 1e-6
        lam = 1e-4
        self.q = self.q + jac.T @ np.linalg.solve(jac @ jac.T + lam * np.eye(3), np.asarray(dp))

    def feed(self, kind, args, t):
        g = self.gate
        if kind == 'clock':
            self.now += args[0]
        elif kind == 'joint_states':
            if g.on_joint_states(self.names, [float(v) for v in self.q], t):
                self.measured = self.q.copy()
        elif kind == 'joint_states_garbage':
            g.on_joint_states(*args, t)

    def drive(self, args):
        """One control period: a heartbeat and the measured joints (the command stays)."""
        self.event('heartbeat', ())
        self.event('joint_states', ())
        self.event('clock', (0.02,))

    def check(self, d):
        f, out = self.f, d.output
        _stats['arm_steps'] += 1
        if out is None:
            return
        values = list(out.ee_delta) + list(out.joint_positions) + [out.gripper]
        assert all(math.isfinite(v) for v in values), d
        assert 0.0 <= out.gripper <= 1.0, d
        if self.gate.supervisor.estop.engaged:
            assert out.mode == ARM_MODE_STOP, d
        else:   # the driver's hard stop is the e-stop's alone; routine stops hold
            assert out.mode != ARM_MODE_STOP, d
        if out.mode in (ARM_MODE_STOP, ARM_MODE_HOLD):
            self.ref = None
            return
        _stats['arm_moves'] += 1
        tstep = min(f['arm.max_translation_step'], f['hard_caps.max_translation_step'])
        rstep = min(f['arm.max_rotation_step'], f['hard_caps.max_rotation_step'])
        if out.mode == ARM_MODE_EE_DELTA:
            assert all(abs(v) <= tstep + TOL for v in out.ee_delta[:3]), d
            assert all(abs(v) <= rstep + TOL for v in out.ee_delta[3:]), d
            self.ik_step(out.ee_delta[:3])
            self.ref = None
        else:
            assert out.mode == ARM_MODE_JOINT_POSITION, d
            # Streaming starts from the joints the gate last measured, then from its own last
            # target (it cannot know better); each step within the per-tick limit.
            ref = self.measured if self.ref is None else self.ref
            m = f['arm.joint_limit_margin']
            for v, r, (lo, hi) in zip(out.joint_positions, ref, RM75_LIMITS):
                band = (lo + m, hi - m)
                if not band[0] - TOL <= v <= band[1] + TOL:     # hold or go back in only
                    assert _outside(v, band) <= _outside(r, band) + TOL, (v, r, band, d)
            period = 1.0 / f['rate']
            for new, old, vmax in zip(out.joint_positions, ref, RM75_MAX_VELOCITY):
                assert abs(new - old) <= vmax * f['arm.joint_velocity_scale'] * period + 1e-9
            self.q = np.array(out.joint_positions, dtype=float)
            self.ref = tuple(out.joint_positions)
        clearance = box_clearance(oracle_fk(self.q), f['arm.workspace_min'],
                                  f['arm.workspace_max'])
        self.min_clearance = min(self.min_clearance, clearance)
        assert clearance >= min(self.start_clearance, 0.0) - 1e-3, (self.q, clearance)


HOME = (0.0, 0.6, 0.0, 2.0, 0.0, 0.5, 0.0)
arm_small = st.floats(-0.03, 0.03)
joint_target = st.lists(st.floats(-1.2, 1.2), min_size=7, max_size=7).map(
    lambda d: tuple(h + x for h, x in zip(HOME, d)))
arm_event = st.one_of(
    st.tuples(st.just('clock'), st.tuples(st.sampled_from([0.02, 0.02, 0.01, 0.0]))),
    st.tuples(st.just('clock'), st.tuples(st.floats(0.0, 0.5))),
    st.tuples(st.just('arm_cmd_in'), st.tuples(
        st.just(ARM_MODE_EE_DELTA), st.lists(arm_small, min_size=6, max_size=6).map(tuple),
        st.just(()), st.floats(-1, 2))),
    st.tuples(st.just('arm_cmd_in'), st.tuples(
        st.just(ARM_MODE_JOINT_POSITION), st.just((0.0,) * 6), joint_target, st.floats(0, 1))),
    st.tuples(st.just('arm_cmd_in'), st.tuples(
        st.integers(0, 4), st.lists(nasty, max_size=7).map(tuple),
        st.lists(nasty, max_size=8).map(tuple), nasty)),
    st.tuples(st.just('arm_cmd_in'), st.tuples(st.just(ARM_MODE_STOP), st.just((0.0,) * 6),
                                               st.just(()), st.just(0.0))),
    st.tuples(st.just('joint_states'), st.just(())),
    st.tuples(st.just('joint_states_garbage'), st.tuples(
        st.lists(st.sampled_from(['joint1', 'joint2', 'joint9']), max_size=8),
        st.lists(nasty, max_size=8))),
    st.tuples(st.just('heartbeat'), st.just(())),
    st.tuples(st.just('estop'), st.tuples(st.booleans())),
    st.tuples(st.just('reset_estop'), st.just(())),
)


@FUZZ
@given(st.lists(st.one_of(arm_event, arm_event, st.tuples(st.just('drive'), st.just(()))),
                min_size=1, max_size=60),
       st.lists(st.floats(-1.0, 1.0), min_size=7, max_size=7))
def test_arm_gate_against_independent_oracles(events, offset):
    world = ArmWorld(within_urdf_limits([h + o for h, o in zip(HOME, offset)]))
    _stats['arm_cases'] += 1
    world.play(events)
    if world.min_clearance < math.inf:
        _stats['box_clearance'].append(round(world.min_clearance, 5))


def test_the_arm_oracles_reach_the_box_and_agree_with_the_urdf():
    world = ArmWorld(HOME)
    p0 = oracle_fk(world.q)
    for _ in range(300):
        world.event('heartbeat', ())
        world.event('joint_states', ())
        world.event('arm_cmd_in', (ARM_MODE_EE_DELTA, (0.0, 0.0, -0.01, 0, 0, 0), (), 0.0))
        world.event('clock', (0.02,))
    p1 = oracle_fk(world.q)
    assert p1[2] < p0[2] - 0.05, 'the end effector went down'
    assert p1[2] >= ARM_FLAT['arm.workspace_min'][2] - 1e-3, 'and stopped at the box floor'
    # Zero joints: the arm stands straight up, the flange at the sum of the link lengths.
    assert oracle_fk([0.0] * 7) == pytest.approx([0.0, 0.0, 0.2405 + 0.256 + 0.21 + 0.144],
                                                 abs=1e-3)
