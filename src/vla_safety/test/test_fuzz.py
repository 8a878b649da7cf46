"""Fuzz: adversarial command/sensor/e-stop sequences never produce an unsafe output.

Hypothesis explores event sequences (NaN, Inf, 1e308, clock jumps, scans with garbage,
e-stop/reset storms); a seeded random run adds tens of thousands of events per gate. After
every decision the invariants below must hold.
"""

import math
import random

import pytest
from hypothesis import given, HealthCheck, settings, strategies as st
from vla_safety.core.arm import box_excess
from vla_safety.core.config import build
from vla_safety.core.gate import (ARM_MODE_EE_DELTA, ARM_MODE_HOLD, ARM_MODE_JOINT_POSITION,
                                  ARM_MODE_STOP, ArmGate, ArmInput, BaseGate)
from vla_common.planar import Twist2D
from vla_safety.core.kinematics import ForwardKinematics
from vla_safety.core.reasons import STOP_REASONS
from vla_testing.gate_events import GateEvents

EPS = 1e-9
FUZZ = settings(max_examples=250, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

nasty = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from([0.0, 1e308, -1e308, 0.3, -0.3, 0.5, 1e-12, 5.0]))
small = st.floats(-1.0, 1.0)


# --- base ---------------------------------------------------------------------------------------
class BaseChecker(GateEvents):
    """Feeds events to a BaseGate and checks every decision."""

    command_type = Twist2D

    def __init__(self, overrides=None):
        self.settings, self.cfg = build(overrides or {})
        self.gate = BaseGate(self.cfg)
        self.now = 0.0
        self.prev = Twist2D()
        self.prev_step = None
        self.steps = 0
        self.moving = 0

    def feed(self, kind, args, t):
        g = self.gate
        if kind == 'advance':
            self.now += args[0]
        elif kind == 'odom':
            g.on_odom(*args, t)
        elif kind == 'scan':
            g.on_scan(args[0], args[1], 0.05, 6.0, args[2], t)

    def check(self, d):
        c, v, a = d.cmd, self.cfg.velocity, self.cfg.accel
        assert c.is_finite(), d
        assert -v.max_vx_backward - EPS <= c.vx <= v.max_vx_forward + EPS, d
        assert abs(c.vy) <= v.max_vy + EPS and abs(c.wz) <= v.max_wz + EPS, d
        if v.max_planar_speed > 0:
            assert math.hypot(c.vx, c.vy) <= v.max_planar_speed + EPS, d
        if d.reasons & STOP_REASONS or self.gate.supervisor.estop.engaged:
            assert c == Twist2D(), d
        # Ramps: never a sign flip in one step, never faster growth than the acceleration.
        period = self.cfg.period
        dt = period if self.prev_step is None else self.now - self.prev_step
        dt = max(0.0, min(dt, 2.0 * period))
        for new, old, acc in ((c.vx, self.prev.vx, a.accel_x), (c.vy, self.prev.vy, a.accel_y),
                              (c.wz, self.prev.wz, a.accel_wz)):
            assert new * old >= 0.0, (new, old, d)
            assert abs(new) - abs(old) <= acc * dt + EPS, (new, old, dt, d)
        self.prev, self.prev_step = c, self.now
        self.steps += 1
        self.moving += c != Twist2D()


base_event = st.one_of(
    st.tuples(st.just('advance'), st.tuples(st.floats(-0.05, 0.6))),
    st.tuples(st.just('advance'), st.tuples(st.just(0.02))),
    st.tuples(st.just('cmd'), st.tuples(nasty, nasty, nasty)),
    st.tuples(st.just('cmd'), st.tuples(small, small, small)),
    st.tuples(st.just('odom'), st.tuples(st.floats(-6, 6), st.floats(-6, 6),
                                         st.floats(-4, 4))),
    st.tuples(st.just('odom'), st.tuples(nasty, nasty, nasty)),
    st.tuples(st.just('scan'), st.tuples(st.floats(-4, 4), nasty,
                                         st.lists(nasty, max_size=40))),
    st.tuples(st.just('scan'), st.tuples(st.just(-math.pi), st.just(math.pi / 8),
                                         st.lists(st.floats(0.0, 1.0), min_size=16,
                                                  max_size=16))),
    st.tuples(st.just('heartbeat'), st.just(())),
    st.tuples(st.just('estop'), st.just((True,))),
    st.tuples(st.just('reset_estop'), st.just(())),
)


@FUZZ
@given(st.lists(base_event, min_size=1, max_size=80),
       st.sampled_from([{}, {'limits.preserve_direction': False},
                        {'limits.max_vel_y': 0.0, 'limits.max_planar_speed': 0.0},
                        {'require_scan': False, 'require_heartbeat': False,
                         'geofence.enabled': False}]))
def test_base_gate_outputs_stay_safe(events, overrides):
    checker = BaseChecker(overrides)
    for kind, args in events:
        checker.event(kind, args)


def test_base_gate_seeded_random_storm():
    rng = random.Random(20261123)
    values = [math.nan, math.inf, -math.inf, 1e308, -1e308, 0.0]
    inputs = ['cmd', 'odom', 'scan', 'heartbeat']
    for overrides in ({}, {'limits.preserve_direction': False, 'require_heartbeat': False}):
        checker = BaseChecker(overrides)
        dropped = set()
        quiet = False
        for i in range(15000):
            if i % 300 == 0:
                # Phases: some inputs die (publisher killed, cable out), or the policy is quiet
                # (zero commands, so a reset can succeed).
                dropped = set(rng.sample(inputs, rng.choice([0, 0, 1, 1, 2])))
                quiet = rng.random() < 0.25
            r = rng.random()
            if r < 0.35:
                args = tuple(0.0 if quiet else rng.choice(values) if rng.random() < 0.15
                             else rng.uniform(-2, 2) for _ in range(3))
                kind = 'cmd'
            elif r < 0.55:
                kind, args = 'advance', (rng.choice([0.02] * 8 + [0.01, 0.3, -0.1]),)
            elif r < 0.7:
                kind, args = 'odom', (rng.uniform(-5.5, 5.5), rng.uniform(-5.5, 5.5),
                                      rng.uniform(-4, 4))
            elif r < 0.8:
                close = rng.random() < 0.2      # mostly clear scans, some with obstacles
                kind, args = 'scan', (-math.pi, math.pi / 180,
                                      [rng.choice([rng.uniform(0, 3) if close else 5.0,
                                                   5.0, math.nan, math.inf])
                                       for _ in range(360)])
            elif r < 0.97:
                kind, args = 'heartbeat', ()
            elif r < 0.972:
                kind, args = 'estop', (True,)
            else:
                kind, args = 'reset_estop', ()
            if kind in dropped:
                kind, args = 'advance', (0.0,)
            checker.event(kind, args)
        assert checker.steps == 15000
        assert checker.moving > 100       # the invariants are not met by standing still


def test_base_gate_moves_in_the_storm_too():
    """The invariants above would also hold for a gate that never moves: show it does."""
    checker = BaseChecker({'require_scan': False})
    for i in range(200):
        checker.event('heartbeat', ())
        checker.event('odom', (0.0, 0.0, 0.0))
        checker.event('cmd', (0.4, 0.1, 0.2))
        checker.event('advance', (0.02,))
    assert checker.moving > 150


# --- arm ----------------------------------------------------------------------------------------
class ArmChecker(GateEvents):
    command_type = ArmInput

    def __init__(self):
        _, self.cfg = build({'mode': 'arm'})
        self.lim = self.cfg.limits
        self.gate = ArmGate(self.cfg)
        self.fk = ForwardKinematics(self.lim.model, self.lim.tool_offset)
        self.now = 0.0
        self.q = None
        self.ref = None
        self.moves = 0

    def feed(self, kind, args, t):
        if kind == 'advance':
            self.now += args[0]
        elif kind == 'joints':
            if self.gate.on_joint_states(list(self.lim.arm.joint_names), list(args), t):
                self.q = tuple(args)

    def check(self, d):
        lim, out = self.lim, d.output
        if d.reasons & STOP_REASONS:
            assert out is None or out.mode in (ARM_MODE_HOLD, ARM_MODE_STOP), d
        if out is not None and out.mode == ARM_MODE_STOP:
            # The driver's hard stop is the e-stop's alone.
            assert self.gate.supervisor.estop.engaged, d
        if out is None:
            return
        values = list(out.ee_delta) + list(out.joint_positions) + [out.gripper]
        assert all(math.isfinite(v) for v in values), d
        assert 0.0 <= out.gripper <= 1.0
        if out.mode in (ARM_MODE_HOLD, ARM_MODE_STOP):
            self.ref = None
            return
        assert not d.reasons & STOP_REASONS and not self.gate.supervisor.estop.engaged
        assert self.q is not None
        self.moves += 1
        if out.mode == ARM_MODE_EE_DELTA:
            assert all(abs(v) <= lim.max_translation_step + EPS for v in out.ee_delta[:3])
            assert all(abs(v) <= lim.max_rotation_step + EPS for v in out.ee_delta[3:])
            p = self.fk.position(self.q)
            for x, dx, lo, hi in zip(p, out.ee_delta[:3], lim.workspace_min,
                                     lim.workspace_max):
                assert lo - EPS <= x + dx <= hi + EPS or abs(x + dx - (lo + hi) / 2) <= abs(
                    x - (lo + hi) / 2) + EPS
            self.ref = None
        else:
            assert out.mode == ARM_MODE_JOINT_POSITION and len(out.joint_positions) == 7
            m = lim.joint_limit_margin
            for q, lo, hi in zip(out.joint_positions, lim.arm.lower, lim.arm.upper):
                assert lo + m - EPS <= q <= hi - m + EPS
            ref = self.ref if self.ref is not None else self.q
            for new, old, v in zip(out.joint_positions, ref, lim.arm.max_velocity):
                assert abs(new - old) <= v * lim.joint_velocity_scale * self.cfg.period + EPS
            before = box_excess(self.fk.position(ref), lim.workspace_min, lim.workspace_max)
            after = box_excess(self.fk.position(out.joint_positions), lim.workspace_min,
                               lim.workspace_max)
            assert after <= max(before, 0.0) + 1e-9
            self.ref = out.joint_positions


HOME = (0.0, 0.6, 0.0, 2.0, 0.0, 0.5, 0.0)
joint_vec = st.lists(st.floats(-1.5, 1.5), min_size=7, max_size=7).map(
    lambda d: tuple(h + x for h, x in zip(HOME, d)))
in_band = joint_vec.map(lambda q: tuple(max(-2.1, min(2.1, v)) for v in q))
arm_event = st.one_of(
    st.tuples(st.just('advance'), st.tuples(st.floats(-0.05, 0.5))),
    st.tuples(st.just('advance'), st.tuples(st.just(0.02))),
    st.tuples(st.just('cmd'), st.tuples(st.just(ARM_MODE_EE_DELTA),
                                        st.lists(st.floats(-0.05, 0.05), min_size=6,
                                                 max_size=6).map(tuple),
                                        st.just(()), st.floats(-1, 2))),
    st.tuples(st.just('cmd'), st.tuples(st.just(ARM_MODE_JOINT_POSITION),
                                        st.just((0.0,) * 6), joint_vec, st.floats(0, 1))),
    st.tuples(st.just('cmd'), st.tuples(st.integers(0, 5),
                                        st.lists(nasty, min_size=0, max_size=7).map(tuple),
                                        st.lists(nasty, min_size=0, max_size=8).map(tuple),
                                        nasty)),
    st.tuples(st.just('joints'), in_band),
    st.tuples(st.just('heartbeat'), st.just(())),
    st.tuples(st.just('estop'), st.just((True,))),
    st.tuples(st.just('reset_estop'), st.just(())),
)


@FUZZ
@given(st.lists(arm_event, min_size=1, max_size=60))
def test_arm_gate_outputs_stay_safe(events):
    checker = ArmChecker()
    for kind, args in events:
        checker.event(kind, args)


@pytest.mark.parametrize('seed', [1, 2])
def test_arm_gate_seeded_random_storm(seed):
    rng = random.Random(seed)
    checker = ArmChecker()
    sent = 0
    for _ in range(6000):
        r = rng.random()
        if r < 0.3:
            if rng.random() < 0.5:
                delta = tuple(rng.uniform(-0.05, 0.05) for _ in range(6))
                checker.event('cmd', (ARM_MODE_EE_DELTA, delta, (), rng.uniform(-0.5, 1.5)))
            else:
                q = tuple(h + rng.uniform(-3, 3) for h in HOME)
                checker.event('cmd', (ARM_MODE_JOINT_POSITION, (0.0,) * 6, q, 0.5))
        elif r < 0.35:
            checker.event('cmd', (rng.choice([0, 1, 2, 3, 9]), (math.nan,) * rng.randint(0, 6),
                                  (1e308,) * rng.randint(0, 8), math.inf))
        elif r < 0.55:
            checker.event('advance', (rng.choice([0.02, 0.02, 0.3, -0.1]),))
        elif r < 0.75:
            q = tuple(max(-2.1, min(2.1, h + rng.uniform(-0.3, 0.3))) for h in HOME)
            checker.event('joints', q)
        elif r < 0.98:
            checker.event('heartbeat', ())
        elif r < 0.983:
            checker.event('estop', (True,))
        else:
            checker.event('reset_estop', ())
        sent += 1
    assert sent == 6000
    assert checker.moves > 50 and checker.gate.interventions > 0   # it did move, and limit
