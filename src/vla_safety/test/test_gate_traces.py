"""Recorded decision traces: the gates must keep deciding exactly what they decided.

`data/gate_traces.json` holds seeded event storms (healthy ticks, NaN/Inf and invalid
commands, stale and broken sensors, e-stop/reset storms, clock jumps, runtime
reconfiguration, several events in one tick) for both gates with several configurations,
and every decision and return value the gate produced. It was recorded when `BaseGate` and
`ArmGate` moved onto their shared `Gate` base, from the implementation before the move, and
the new one matched it event for event (see docs/safety.md, "Refactoring the gate").

A deliberate behaviour change shows up here as the first event that differs. Review that it
is the intended change, then re-record and commit the new file with the change:

    python src/vla_safety/test/test_gate_traces.py --write
"""

import functools
import json
import math
import pathlib
import random
import sys

import pytest
from vla_safety.core.config import build
from vla_safety.core.gate import (ARM_MODE_EE_DELTA, ARM_MODE_JOINT_POSITION, ARM_MODE_STOP,
                                  ArmGate, ArmInput, BaseGate)
from vla_common.planar import Twist2D

TRACES = pathlib.Path(__file__).with_name('data') / 'gate_traces.json'
EVENTS_PER_CONFIG = 400
HOME = (0.0, 0.6, 0.0, 2.0, 0.0, 0.5, 0.0)
CONFIGS = {
    'base': [
        {}, {'limits.preserve_direction': False},
        {'require_scan': False, 'require_heartbeat': False, 'geofence.enabled': False},
        {'limits.max_vel_y': 0.0, 'limits.max_planar_speed': 0.0, 'command_timeout': 0.1,
         'odom_timeout': 0.1, 'scan_timeout': 1.0, 'reset_quiet_time': 0.05},
        {'start_latched': True, 'heartbeat_timeout': 0.1, 'require_odom': False},
    ],
    'arm': [
        {'mode': 'arm'},
        {'mode': 'arm', 'require_heartbeat': False, 'joint_state_timeout': 0.05,
         'arm.joint_velocity_scale': 1.0, 'reset_quiet_time': 0.05},
        {'mode': 'arm', 'start_latched': True, 'arm.max_translation_step': 0.001,
         'arm.workspace_max': [0.3, 0.3, 0.2], 'command_timeout': 0.5},
    ],
}
FLOAT_TOL = 1e-9   # libm may differ in the last bits between machines; nothing else may


# --- the storms -------------------------------------------------------------------------------
def _storm(rng, mode, n):
    """`n` events [kind, args, step]: mostly healthy ticks, with every kind of trouble."""
    bad = [math.nan, math.inf, -math.inf, 1e308, 0.0]
    configs = CONFIGS[mode]

    def uniform(low, high):     # 4 decimals keep the file small; they are inputs, not results
        return round(rng.uniform(low, high), 4)

    events, quiet = [], False
    for i in range(n):
        if i % 40 == 0:
            quiet = rng.random() < 0.4      # zero commands, so resets can succeed
        scale = 0.0 if quiet else 1.0
        r = rng.random()
        if r < 0.35:
            if mode == 'base':
                args = [[uniform(-5.5, 5.5), uniform(-5.5, 5.5), uniform(-4, 4)],
                        [scale * uniform(-0.8, 0.8) for _ in range(3)]]
            else:
                q = [max(-2.1, min(2.1, h + uniform(-0.3, 0.3))) for h in HOME]
                if rng.random() < 0.5:
                    cmd = [ARM_MODE_EE_DELTA, [scale * uniform(-0.05, 0.05)
                                               for _ in range(6)], [], uniform(-0.5, 1.5)]
                else:
                    target = q if quiet else [h + uniform(-3, 3) for h in HOME]
                    cmd = [ARM_MODE_JOINT_POSITION, [0.0] * 6, target, 0.5]
                args = [q, cmd]
            kind = 'live'
        elif r < 0.6:
            kind, args = 'advance', [rng.choice([0.02] * 6 + [0.0, 0.3, 0.6, -0.1])]
        elif r < 0.7:
            kind = 'cmd'
            if quiet:
                args = [0.0] * 3 if mode == 'base' else [ARM_MODE_STOP, [], [], 0.0]
            elif mode == 'base':
                args = [rng.choice(bad) if rng.random() < 0.3 else 0.0 for _ in range(3)]
            else:
                args = [rng.choice([0, 1, 2, 9]), [rng.choice(bad)] * rng.randint(0, 6),
                        [0.1] * rng.randint(0, 8), rng.choice(bad)]
        elif r < 0.83:
            kind, args = 'hb', []
        elif r < 0.88:
            if mode == 'base':
                kind, args = 'scan', [rng.choice([-math.pi, math.nan]), math.pi / 8,
                                      [rng.choice([5.0, 0.15, 0.3, math.nan])
                                       for _ in range(16)]]
            else:
                kind, args = 'joints', [rng.choice([0.0, math.nan]) for _ in range(7)]
        elif r < 0.89:
            kind, args = 'estop', []
        elif r < 0.98:
            kind, args = 'reset', []
        else:
            kind, args = 'reconfigure', [rng.randrange(len(configs))]
        events.append([kind, args, rng.random() < 0.8])
    return events


def _engage_and_reset_between_steps(mode):
    """Moving, then e-stop, quiet and reset with no step in between (the node always steps
    after an e-stop, so the storms rarely get here), then moving again."""
    if mode == 'base':
        live, quiet = [[0.0, 0.0, 0.0], [0.4, 0.2, 0.5]], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    else:
        target = [h + 0.5 for h in HOME]
        live = [list(HOME), [ARM_MODE_JOINT_POSITION, [0.0] * 6, target, 0.5]]
        quiet = [list(HOME), [ARM_MODE_STOP, [], [], 0.0]]
    tick = ['advance', [0.02], True]
    events = [e for _ in range(20) for e in (['live', live, True], tick)]
    events.append(['estop', [], False])
    events += [e for _ in range(40) for e in (['live', quiet, False], ['advance', [0.02], False])]
    events.append(['reset', [], False])
    return events + [e for _ in range(10) for e in (['live', live, True], tick)]


# --- running a gate ---------------------------------------------------------------------------
def _floats(values):
    return None if values is None else [float(v) for v in values]


def _decision(mode, d):
    common = [int(d.reasons), int(d.state), d.command_age, d.estop_reason, d.intervened]
    if mode == 'base':
        return [_floats(d.cmd.as_tuple())] + common
    o = d.output
    out = None if o is None else [o.mode, _floats(o.ee_delta), _floats(o.joint_positions),
                                  o.gripper]
    return [out] + common + [_floats(d.ee_position)]


def _run(mode, config_index, events):
    """What the current gate returns and decides for each event."""
    configs = [build(c)[1] for c in CONFIGS[mode]]
    gate = (BaseGate if mode == 'base' else ArmGate)(configs[config_index])
    names = list(configs[0].limits.arm.joint_names) if mode == 'arm' else []
    now, records = 0.0, []

    def command(args, t):
        return gate.on_command(Twist2D(*args) if mode == 'base' else ArmInput(
            args[0], tuple(args[1]), tuple(args[2]), args[3]), t)

    for kind, args, step in events:
        if kind == 'advance':
            now += args[0]
            result = None
        elif kind == 'live':
            gate.on_heartbeat(now)
            if mode == 'base':
                gate.on_odom(*args[0], now)
                gate.on_scan(-math.pi, math.pi / 8, 0.05, 6.0, [5.0] * 16, now)
            else:
                gate.on_joint_states(names, args[0], now)
            result = command(args[1], now)
        elif kind == 'cmd':
            result = command(args, now)
        elif kind == 'scan':
            result = gate.on_scan(args[0], args[1], 0.05, 6.0, args[2], now)
        elif kind == 'joints':
            result = gate.on_joint_states(names, args, now)
        elif kind == 'hb':
            result = gate.on_heartbeat(now)
        elif kind == 'estop':
            result = gate.engage_estop('trace', now)
        elif kind == 'reset':
            result = list(gate.reset_estop(now))
        else:
            result = gate.reconfigure(configs[args[0]])
        counter = gate.scans_rejected if mode == 'base' else gate.joint_states_rejected
        records.append([result, _decision(mode, gate.step(now)) if step else None,
                        gate.interventions, counter, gate.supervisor.estop.engaged])
    return records


def record():
    """Seeded storms for every mode and configuration, with what the current gate did."""
    traces = []
    for mode, configs in CONFIGS.items():
        for index in range(len(configs)):
            events = _storm(random.Random(f'{mode}-{index}'), mode, EVENTS_PER_CONFIG)
            if index == 0:
                events = _engage_and_reset_between_steps(mode) + events
            traces.append({'mode': mode, 'config': index, 'events': events,
                           'expected': _run(mode, index, events)})
    return traces


# --- the test ---------------------------------------------------------------------------------
def _same(a, b):
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= FLOAT_TOL
    return a == b and type(a) is type(b)


@functools.lru_cache(maxsize=1)
def _recorded():
    return TRACES.read_text(encoding='utf-8')


def _load():
    return json.loads(_recorded())


@pytest.mark.parametrize('mode, config',
                         [(m, i) for m, c in CONFIGS.items() for i in range(len(c))])
def test_gate_decides_as_recorded(mode, config):
    trace = next(t for t in _load() if (t['mode'], t['config']) == (mode, config))
    actual = json.loads(json.dumps(_run(trace['mode'], trace['config'], trace['events'])))
    for i, (want, got) in enumerate(zip(trace['expected'], actual)):
        assert _same(got, want), (
            f"event {i} {trace['events'][i]}: recorded [result, decision, interventions, "
            f'rejected, estop] {want}, now {got}')
    assert len(actual) == len(trace['expected'])


def test_the_traces_exercise_motion_stops_and_resets():
    """The recording is not a trace of a gate that never moves."""
    moving = stopped = resets = 0
    for trace in _load():
        for (kind, _, _), (result, decision, *_) in zip(trace['events'], trace['expected']):
            if decision is not None:
                out = decision[0]
                moved = (any(out) if trace['mode'] == 'base'
                         else out is not None and out[0] != ARM_MODE_STOP)
                moving += moved
                stopped += decision[2] >= 2
            resets += kind == 'reset' and result[0] and 'released' in result[1]
    assert moving > 300 and stopped > 300 and resets > 10, (moving, stopped, resets)


def test_a_changed_decision_is_caught():
    trace = _load()[0]
    tampered = json.loads(json.dumps(trace['expected']))
    first = next(i for i, r in enumerate(tampered) if r[1] is not None)
    tampered[first][1][1] ^= 1 << 8          # a reason bit the gate did not report
    actual = json.loads(json.dumps(_run(trace['mode'], trace['config'], trace['events'])))
    assert not _same(actual, tampered)


if __name__ == '__main__':
    if sys.argv[1:] != ['--write']:
        sys.exit(__doc__)
    TRACES.parent.mkdir(exist_ok=True)
    TRACES.write_text(json.dumps(record(), separators=(',', ':')) + '\n', encoding='utf-8')
    print(f'wrote {TRACES} ({TRACES.stat().st_size} bytes)')
