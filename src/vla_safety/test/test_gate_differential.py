"""Differential test: the gates on their shared `Gate` base vs the implementation before it.

Both implementations get the same random event sequences (commands including NaN/Inf and
invalid arm commands, sensors, heartbeats, e-stop/reset storms, clock jumps, runtime
reconfiguration) and must return the same values and decisions, field by field, and keep the
same counters. `DIFF_EXAMPLES` sets the number of sequences per gate (default 300).
"""

import atexit
import collections
import importlib.util
import math
import os
import pathlib
import sys

import pytest
from hypothesis import given, HealthCheck, settings, strategies as st
from vla_safety.core import gate as new
from vla_safety.core.config import build


def _load(name):
    """A module of this test directory (pytest runs with --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(
        f'_diff_{name}', pathlib.Path(__file__).with_name(f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module     # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


old = _load('legacy_gate')          # the implementation before the shared base, unchanged
_fuzz = _load('test_fuzz')          # its event strategies (NaN/Inf, storms, clock jumps)
base_event, arm_event = _fuzz.base_event, _fuzz.arm_event

EXAMPLES = int(os.environ.get('DIFF_EXAMPLES', '300'))
#: What the compared sequences exercised (printed at exit with DIFF_STATS=1, for the record).
STATS = collections.Counter()
DIFF = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BASE_CONFIGS = [
    {}, {'limits.preserve_direction': False},
    {'require_scan': False, 'require_heartbeat': False, 'geofence.enabled': False},
    {'limits.max_vel_y': 0.0, 'limits.max_planar_speed': 0.0, 'command_timeout': 0.1,
     'odom_timeout': 0.1, 'scan_timeout': 1.0, 'reset_quiet_time': 0.05},
    {'start_latched': True, 'heartbeat_timeout': 0.1, 'require_odom': False},
]
ARM_CONFIGS = [
    {'mode': 'arm'},
    {'mode': 'arm', 'require_heartbeat': False, 'joint_state_timeout': 0.05,
     'arm.joint_velocity_scale': 1.0, 'reset_quiet_time': 0.05},
    {'mode': 'arm', 'start_latched': True, 'arm.max_translation_step': 0.001,
     'arm.workspace_max': [0.3, 0.3, 0.2], 'command_timeout': 0.5},
]


def _config(overrides):
    return build(overrides)[1]


def _floats(values):
    return None if values is None else tuple(float(v) for v in values)


def _base_decision(d):
    return (_floats(d.cmd.as_tuple()), int(d.reasons), int(d.state), d.command_age,
            d.estop_reason, d.intervened)


def _arm_decision(d):
    out = d.output
    output = None if out is None else (type(out).__name__, out.mode, _floats(out.ee_delta),
                                       _floats(out.joint_positions), out.gripper)
    return (output, int(d.reasons), int(d.state), d.command_age, d.estop_reason, d.intervened,
            _floats(d.ee_position))


class Pair:
    """Drives an old and a new gate with the same events and compares everything."""

    def __init__(self, mode, overrides):
        self.mode, self.now = mode, 0.0
        cfg = _config(overrides)
        if mode == 'base':
            self.gates = (old.BaseGate(cfg), new.BaseGate(cfg))
            self.decision = _base_decision
        else:
            self.gates = (old.ArmGate(cfg), new.ArmGate(cfg))
            self.decision = _arm_decision
        self.names = list(cfg.limits.joint_names) if mode == 'arm' else []
        self.events = 0

    def _apply(self, module, g, kind, args):
        t = self.now
        if kind == 'cmd':
            cmd = new.Twist2D(*args) if self.mode == 'base' else module.ArmInput(*args)
            return g.on_command(cmd, t)
        if kind == 'odom':
            return g.on_odom(*args, t)
        if kind == 'scan':
            return g.on_scan(args[0], args[1], 0.05, 6.0, args[2], t)
        if kind == 'joints':
            return g.on_joint_states(self.names, list(args), t)
        if kind == 'hb':
            return g.on_heartbeat(t)
        if kind == 'estop':
            return g.engage_estop('diff', t)
        if kind == 'reset':
            return g.reset_estop(t)
        if kind == 'reconfigure':
            return g.reconfigure(_config(args[0]))
        if kind == 'live':     # a healthy tick: heartbeat, fresh sensors and a command
            sensors, cmd = args
            g.on_heartbeat(t)
            if self.mode == 'base':
                g.on_odom(*sensors, t)
                g.on_scan(-math.pi, math.pi / 180, 0.05, 6.0, [5.0] * 360, t)
            else:
                g.on_joint_states(self.names, list(sensors), t)
            return self._apply(module, g, 'cmd', cmd)
        raise AssertionError(kind)

    def state(self, g):
        sup = g.supervisor
        counters = (g.scans_rejected if self.mode == 'base' else g.joint_states_rejected,)
        return (g.interventions, counters, sup.estop.engaged, sup.estop.reason,
                sup.estop.engaged_at, sup.estop.count, sup.command.last, sup.heartbeat.last,
                sup.last_nonzero_command, g.config)

    def event(self, kind, args, step=True):
        """Apply one event to both gates; then (unless `step` is False) compare a step."""
        if kind == 'advance':
            self.now += args[0]
            results = [None, None]
        else:
            results = [self._apply(m, g, kind, args) for m, g in zip((old, new), self.gates)]
        assert results[0] == results[1], (self.events, kind, args, results)
        self.events += 1
        if step:
            d_old, d_new = (self.decision(g.step(self.now)) for g in self.gates)
            assert _same(d_old, d_new), (self.events, kind, args, d_old, d_new)
            self._tally(kind, results[1], d_new)
        assert self.state(self.gates[0]) == self.state(self.gates[1]), (self.events, kind)

    def _tally(self, kind, result, d):
        STATS[f'{self.mode} events'] += 1
        STATS[f'{self.mode} {kind}'] += 1
        if kind == 'reset':
            STATS[f'{self.mode} reset ' + ('accepted' if result[0] else 'refused')] += 1
        moving = (d[0] != (0.0, 0.0, 0.0)) if self.mode == 'base' else (
            d[0] is not None and d[0][1] != new.ARM_MODE_STOP)
        STATS[f'{self.mode} steps with motion out'] += moving
        STATS[f'{self.mode} steps intervened'] += bool(d[5])
        STATS[f'{self.mode} steps stopped/estop'] += d[2] >= 2


if os.environ.get('DIFF_STATS'):
    atexit.register(lambda: print('\n'.join(f'{k}: {v}' for k, v in sorted(STATS.items()))))


def _same(a, b):
    """Equal, NaN equal to NaN (no decision field should ever be NaN, but compare exactly)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


#: Mostly a step after every event (as the node does), sometimes several events in one tick.
steps = st.sampled_from([True] * 4 + [False])


def _reconfigure(configs):
    return st.tuples(st.just('reconfigure'), st.tuples(st.sampled_from(configs)))


# Healthy ticks, so that the motion pipelines run often, not only the stop paths.
_twist = st.tuples(*[st.floats(-0.8, 0.8)] * 3)
base_live = st.tuples(st.just('live'), st.tuples(
    st.tuples(st.floats(-5.5, 5.5), st.floats(-5.5, 5.5), st.floats(-4, 4)), _twist))
arm_live = st.tuples(st.just('live'), st.tuples(_fuzz.in_band, st.one_of(
    st.tuples(st.just(new.ARM_MODE_EE_DELTA),
              st.lists(st.floats(-0.05, 0.05), min_size=6, max_size=6).map(tuple),
              st.just(()), st.floats(-0.5, 1.5)),
    st.tuples(st.just(new.ARM_MODE_JOINT_POSITION), st.just((0.0,) * 6), _fuzz.joint_vec,
              st.floats(0, 1)))))
tick = st.tuples(st.just('advance'), st.tuples(st.just(0.02)))


@DIFF
@given(st.sampled_from(BASE_CONFIGS),
       st.lists(st.tuples(st.one_of(base_event, _reconfigure(BASE_CONFIGS), base_live,
                                    base_live, tick), steps), min_size=1, max_size=120))
def test_base_gate_matches_the_old_implementation(overrides, events):
    pair = Pair('base', overrides)
    for (kind, args), step in events:
        pair.event(kind, args, step)


@DIFF
@given(st.sampled_from(ARM_CONFIGS),
       st.lists(st.tuples(st.one_of(arm_event, _reconfigure(ARM_CONFIGS), arm_live, arm_live,
                                    tick), steps), min_size=1, max_size=120))
def test_arm_gate_matches_the_old_implementation(overrides, events):
    pair = Pair('arm', overrides)
    for (kind, args), step in events:
        pair.event(kind, args, step)


def _storm_event(rng, mode, configs, quiet):
    """One event of a long seeded storm: mostly healthy ticks, with faults, e-stops, resets,
    clock jumps and reconfiguration mixed in; `quiet` phases send zero commands (so that
    resets can succeed)."""
    r = rng.random()
    scale = 0.0 if quiet else 1.0
    bad = [math.nan, math.inf, -math.inf, 1e308, 0.0]
    if r < 0.35:
        if mode == 'base':
            pose = (rng.uniform(-5.5, 5.5), rng.uniform(-5.5, 5.5), rng.uniform(-4, 4))
            return 'live', (pose, tuple(scale * rng.uniform(-0.8, 0.8) for _ in range(3)))
        q = tuple(max(-2.1, min(2.1, h + rng.uniform(-0.3, 0.3))) for h in _fuzz.HOME)
        if rng.random() < 0.5:
            cmd = (new.ARM_MODE_EE_DELTA,
                   tuple(scale * rng.uniform(-0.05, 0.05) for _ in range(6)), (),
                   rng.uniform(-0.5, 1.5))
        else:
            cmd = (new.ARM_MODE_JOINT_POSITION, (0.0,) * 6,
                   tuple(h + rng.uniform(-3, 3) for h in _fuzz.HOME), 0.5)
        return 'live', (q, cmd)
    if r < 0.6:
        return 'advance', (rng.choice([0.02] * 6 + [0.0, 0.3, 0.6, -0.1]),)
    if r < 0.7:
        if mode == 'base':
            return 'cmd', tuple(rng.choice(bad) if rng.random() < 0.3 else 0.0
                                for _ in range(3))
        return 'cmd', (rng.choice([0, 1, 2, 9]), (rng.choice(bad),) * rng.randint(0, 6),
                       (0.1,) * rng.randint(0, 8), rng.choice(bad))
    if r < 0.83:
        return 'hb', ()
    if r < 0.88:
        if mode == 'base':
            return 'scan', (-math.pi, math.pi / 180,
                            [rng.choice([5.0, 0.15, 0.3, math.nan]) for _ in range(360)])
        return 'joints', tuple(rng.choice([0.0, math.nan]) for _ in range(7))
    if r < 0.883:
        return 'estop', ()
    if r < 0.98:
        return 'reset', ()
    return 'reconfigure', (rng.choice(configs),)


@pytest.mark.parametrize('mode', ['base', 'arm'])
def test_long_seeded_storms_match(mode):
    import random
    configs = BASE_CONFIGS if mode == 'base' else ARM_CONFIGS
    rng = random.Random(f'{mode}-{EXAMPLES}')
    for overrides in configs:
        pair = Pair(mode, overrides)
        quiet = False
        for i in range(EXAMPLES * 4):
            if i % 100 == 0:
                quiet = rng.random() < 0.3
            pair.event(*_storm_event(rng, mode, configs, quiet), step=rng.random() < 0.8)


@pytest.mark.parametrize('mode', ['base', 'arm'])
def test_engage_and_reset_between_two_steps_match(mode):
    """Directed: moving, then e-stop, quiet and reset with no step in between (the node always
    steps after an e-stop, so random sequences rarely reach this), then a new command."""
    pair = Pair(mode, {'require_scan': False, 'geofence.enabled': False} if mode == 'base'
                else {'mode': 'arm'})
    live = (((0.0, 0.0, 0.0), (0.4, 0.2, 0.5)) if mode == 'base'
            else (_fuzz.HOME, (new.ARM_MODE_JOINT_POSITION, (0.0,) * 6,
                               tuple(h + 0.5 for h in _fuzz.HOME), 0.5)))
    quiet = (((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)) if mode == 'base'
             else (_fuzz.HOME, (new.ARM_MODE_STOP, (0.0,) * 6, (), 0.0)))
    for _ in range(20):
        pair.event('live', live)
        pair.event('advance', (0.02,))
    pair.event('estop', (), step=False)
    for _ in range(40):
        pair.event('live', quiet, step=False)
        pair.event('advance', (0.02,), step=False)
    pair.event('reset', (), step=False)
    assert not pair.gates[1].supervisor.estop.engaged
    for _ in range(10):
        pair.event('live', live)
        pair.event('advance', (0.02,))


@pytest.mark.parametrize('mode', ['base', 'arm'])
def test_the_comparison_can_fail(mode):
    """A gate that differs in one shared rule (here: the heartbeat is ignored) is caught."""
    pair = Pair(mode, {} if mode == 'base' else {'mode': 'arm'})
    pair.gates[1].on_heartbeat = lambda now: None
    with pytest.raises(AssertionError):
        pair.event('hb', ())
