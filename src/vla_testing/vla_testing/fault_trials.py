"""Judging one two-host fault trial from what both hosts recorded (pure; no ROS).

The records are the JSON lines of `vla_testing.fault_observer` (robot side: `cmd` = the gate's
`cmd_vel`, `rx_cmd` / `rx_hb` = the policy's traffic as it arrived, `state`, `result`,
`reply`; policy side: `tx_cmd` / `tx_hb` = what the policy published), all on the shared
CLOCK_MONOTONIC: `t` when the observer's callback ran, and for DDS samples `src` (the
writer's source timestamp) and `rcv` (reception), which do not depend on how late the
observer's callbacks run under load. Records without them fall back to `t`. A trial has a
fault injected at `t_fault` (after the command that injects it returned) and lifted at
`t_clear`.

Properties (the issue's "required in every trial"):
- time to stop: from `t_fault` to the first zero `cmd_vel` that stays zero until the fault
  is lifted; bound: the gate's command timeout plus one tick (plus the hop to the observer)
  when the commands stop crossing the link (link down, policy killed);
- no motion while the fault lasts, once stopped;
- motion resumes only after a fresh command and a fresh heartbeat: before the gate wrote
  its first non-zero `cmd_vel` after the fault, the robot host had received a `cmd_vel_in`
  and a `heartbeat` that the policy published (DDS source timestamp) no earlier than one
  timeout before the fault was lifted, so nothing sent before or early in the fault, and
  delivered late, can restart the robot ("robot view"); after an e-stop, not before a
  successful reset. The "policy view" checks the same from what the policy host saw itself
  publish (a second view, reported in `notes`: the gate acts on what it receives);
- no gated command exceeds the limits (given by the caller, read outside the gate).

The time to stop is also given on the gate's own clock (`time_to_stop_gate`): the simulator
stacks run the gate on `/clock` (`time_source: ros`), so its timeouts are seconds of sim time,
which a loaded machine stretches in wall time (a simulator at half real time moves the robot
half as far per wall second, too). The `clock` records of the robot host map wall onto sim time.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

# SafetyState reason bits (vla_msgs/SafetyState; a test compares them)
COMMAND_TIMEOUT = 1 << 2
HEARTBEAT_LOST = 1 << 6
STATE_STOPPED = 2


@dataclass(frozen=True)
class Bounds:
    """Timeouts and limits of the gate under test, read by the caller from its parameters."""

    command_timeout: float = 0.25
    heartbeat_timeout: float = 0.5
    tick: float = 0.02
    hop: float = 0.01               # gate -> observer on the robot host (same host)
    max_vx_forward: float = 0.5
    max_vx_backward: float = 0.5
    max_vy: float = 0.5
    max_wz: float = 1.0
    max_planar: float = 0.5

    @property
    def stop_bound(self) -> float:
        """Wall s from the last command crossing the link to a zero output."""
        return min(self.command_timeout, self.heartbeat_timeout) + self.tick + self.hop


@dataclass
class TrialRecord:
    kind: str
    t_fault: float
    t_clear: float
    robot: List[Dict] = field(default_factory=list)
    policy: List[Dict] = field(default_factory=list)
    t_estop: Optional[float] = None
    t_reset: Optional[float] = None      # when the successful reset was answered
    expect_stop: bool = True             # the fault cuts the commands (not: random loss)
    #: when lifting the fault began (before `ip link set up` ran; t_clear is after it
    #: returned, and under load traffic can flow in between): the fault's end for "stopped
    #: until the fault ends" and where looking for the resume starts. None: t_clear.
    t_lift: Optional[float] = None
    #: the robot never moved after the instruction (e.g. under loss the latched instruction
    #: arrived after `instruction_max_age` and the policy refused it as stale): no fault was
    #: injected into motion (recorded with expect_stop False); the gate's properties are
    #: still judged.
    not_started: str = ''


@dataclass
class TrialResult:
    kind: str
    time_to_stop: Optional[float]        # None: never stopped (or no motion at the fault)
    moving_at_fault: bool
    moved_during_fault: int              # non-zero outputs after the stop, before t_clear
    t_resume: Optional[float]
    resumed_fresh: Optional[bool]        # None: did not resume within the record
    moved_under_estop: int
    limit_violations: int
    gate_stop_ages: List[float]          # the gate's command age at each COMMAND_TIMEOUT stop
    outputs: int
    problems: List[str]                  # property violations (wall-time bound excluded)
    #: samples the robot host received after the fault was lifted (after the kill for
    #: policy_kill) although published more than one timeout before: retransmissions.
    late_stale: List[Dict] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)     # the policy view, when it disagrees
    #: the time to stop in sim s (the gate's clock under `time_source: ros`); None without
    #: `clock` records around the fault and the stop.
    time_to_stop_gate: Optional[float] = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def within(self, bound: float) -> bool:
        """The wall-time stop bound (checked by the benchmark, not in tests: timing)."""
        return self.time_to_stop is not None and self.time_to_stop <= bound

    def within_gate_clock(self, bound: float) -> bool:
        """The stop bound on the gate's own clock (sim time; the benchmark's check)."""
        return self.time_to_stop_gate is not None and self.time_to_stop_gate <= bound


def _moving(v: Sequence[float]) -> bool:
    return any(x != 0.0 for x in v)


def within_limits(v: Sequence[float], b: Bounds, tol: float = 1e-9) -> bool:
    vx, vy, wz = v
    return (all(math.isfinite(x) for x in v) and -b.max_vx_backward - tol <= vx
            <= b.max_vx_forward + tol and abs(vy) <= b.max_vy + tol
            and abs(wz) <= b.max_wz + tol
            and (b.max_planar <= 0 or math.hypot(vx, vy) <= b.max_planar + tol))


def analyse(rec: TrialRecord, b: Bounds) -> TrialResult:
    cmds = [(e['t'], e['v']) for e in rec.robot if e['k'] == 'cmd']
    problems: List[str] = []
    before = [v for t, v in cmds if t < rec.t_fault]
    moving_at_fault = bool(before) and _moving(before[-1])
    # Time to stop: the first zero after the fault from which the output stays zero until
    # the fault is lifted.
    t_lift = rec.t_clear if rec.t_lift is None else rec.t_lift
    during = [(t, v) for t, v in cmds if rec.t_fault <= t < t_lift]
    t_stop: Optional[float] = None
    for i, (t, v) in enumerate(during):
        if not _moving(v) and not any(_moving(w) for _, w in during[i:]):
            t_stop = t
            break
    if not moving_at_fault and t_stop is not None and all(not _moving(v) for _, v in during):
        t_stop = rec.t_fault
    time_to_stop = None if t_stop is None else t_stop - rec.t_fault
    moved_during = 0
    if t_stop is not None:
        moved_during = sum(1 for t, v in during if t >= t_stop and _moving(v))
    if rec.expect_stop and t_stop is None:
        problems.append('never stopped while the fault lasted')
    # Resume: only after fresh traffic (and after the reset when an e-stop was engaged).
    resume = next((e for e in rec.robot if e['k'] == 'cmd' and e['t'] >= t_lift
                   and _moving(e['v'])), None)
    t_resume = resume['t'] if resume else None
    fresh: Optional[bool] = None
    notes: List[str] = []
    late = late_stale(rec, b)
    if resume is not None and rec.expect_stop:
        wrote = src(resume)          # when the gate wrote its first non-zero output
        problem, notes = _fresh_before(rec, b, wrote)
        fresh = not problem
        if problem:
            problems.append(problem)
        if rec.t_estop is not None and rec.t_reset is not None and t_resume < rec.t_reset:
            problems.append('motion resumed before the e-stop reset')
    under_estop = 0
    if rec.t_estop is not None:
        end = rec.t_reset if rec.t_reset is not None else math.inf
        under_estop = sum(1 for t, v in cmds if rec.t_estop + b.hop <= t < end and _moving(v))
        if under_estop:
            problems.append(f'{under_estop} non-zero outputs under the e-stop')
    if moved_during:
        problems.append(f'{moved_during} non-zero outputs after the stop, during the fault')
    violations = sum(1 for _, v in cmds if not within_limits(v, b))
    if violations:
        problems.append(f'{violations} outputs beyond the limits')
    ages = []
    prev_reasons = 0
    for e in rec.robot:
        if e['k'] != 'state':
            continue
        if e['reasons'] & COMMAND_TIMEOUT and not prev_reasons & COMMAND_TIMEOUT \
                and e['age'] >= 0:
            ages.append(e['age'])
        prev_reasons = e['reasons']
    stop_gate = None
    if t_stop is not None:
        a, z = gate_clock(rec.robot, rec.t_fault), gate_clock(rec.robot, t_stop)
        stop_gate = None if a is None or z is None else z - a
    return TrialResult(rec.kind, time_to_stop, moving_at_fault, moved_during, t_resume, fresh,
                       under_estop, violations, ages, len(cmds), problems, late, notes,
                       stop_gate)


def gate_clock(records: Sequence[Dict], t: float) -> Optional[float]:
    """The sim time (`/clock`) at monotonic wall time `t`, interpolated between the `clock`
    records received just before and after it (by reception time); None when `t` is not
    inside the recorded span."""
    clocks = sorted((rcv(e), e['sim']) for e in records if e['k'] == 'clock')
    for (t0, s0), (t1, s1) in zip(clocks, clocks[1:]):
        if t0 <= t <= t1:
            return s0 if t1 == t0 else s0 + (s1 - s0) * (t - t0) / (t1 - t0)
    return None


def src(e: Dict) -> float:
    """When the writer published a sample (DDS source timestamp), else the callback time."""
    v = e.get('src')
    return e['t'] if v is None else v


def rcv(e: Dict) -> float:
    """When the host received a sample (DDS reception timestamp), else the callback time."""
    v = e.get('rcv')
    return e['t'] if v is None else v


def _freshness(b: Bounds) -> Tuple[Tuple[str, str, float], ...]:
    """(what, record kind suffix, timeout) of the two inputs that must be fresh."""
    return (('command', 'cmd', b.command_timeout), ('heartbeat', 'hb', b.heartbeat_timeout))


def _fresh_before(rec: TrialRecord, b: Bounds, wrote: float) -> Tuple[str, List[str]]:
    """Whether a fresh command and heartbeat reached the robot host before the gate wrote
    motion at `wrote`: ('', notes) or (the problem, notes).

    Robot view: an `rx_*` received by then, published no earlier than one timeout before the
    fault ended. An input of which the robot host received nothing at all since the fault
    (its observer had not yet matched a restarted policy's new writer, which the gate may
    have matched first) is judged by the policy view: a `tx_*` published in that window.
    Having received only stale samples is always a failure: that is what the gate moved on.
    """
    notes: List[str] = []
    missing = []
    for what, kind, timeout in _freshness(b):
        got = [e for e in rec.robot if e['k'] == 'rx_' + kind
               and rec.t_fault <= rcv(e) <= wrote + b.hop]
        sent = [e for e in rec.policy if e['k'] == 'tx_' + kind
                and rec.t_clear - timeout <= src(e) <= wrote]
        if any(src(e) >= rec.t_clear - timeout for e in got):
            if not sent:
                notes.append(f'policy view: no {what} seen published between one timeout '
                             'before the fault ended and the resume')
            continue
        if not got and sent:
            notes.append(f'robot observer had received no {what} since the fault when the '
                         f'gate moved (not matched yet); policy view: published '
                         f'{src(sent[0]) - rec.t_clear:+.3f} s after the fault ended')
            continue
        missing.append(what)
    if not missing:
        return '', notes
    got = [e for e in rec.robot if e['k'] in ('rx_cmd', 'rx_hb')
           and rec.t_fault <= rcv(e) <= wrote + b.hop]
    return ('motion resumed without a fresh command and heartbeat (robot view: no fresh '
            f'{" or ".join(missing)} received before the gate wrote motion '
            f'{wrote - rec.t_clear:.3f} s after the fault ended; received since the fault: '
            f'{_describe(got, rec.t_clear)})'), notes


def late_stale(rec: TrialRecord, b: Bounds) -> List[Dict]:
    """Samples received on the robot host after the link came back (after the kill, for a
    killed policy) that were published more than their timeout before the fault ended."""
    since = rec.t_fault if rec.kind == 'policy_kill' else (
        rec.t_clear if rec.t_lift is None else rec.t_lift)
    return [e for _what, kind, timeout in _freshness(b) for e in rec.robot
            if e['k'] == 'rx_' + kind and rcv(e) >= since
            and src(e) < rec.t_clear - timeout]


def _describe(samples: Sequence[Dict], t0: float) -> str:
    if not samples:
        return 'nothing'
    return ', '.join(f"{e['k'][3:]} published {src(e) - t0:+.3f} s received "
                     f"{rcv(e) - t0:+.3f} s" + (f" v={e['v']}" if 'v' in e else '')
                     for e in samples[:8]) + (' ...' if len(samples) > 8 else '')


def excerpt(rec: TrialRecord, result: Optional[TrialResult] = None, before: float = 1.0,
            after: float = 3.0) -> Dict[str, List]:
    """The raw records of a trial from `before` s ahead of the fault to `after` s after it
    ended or motion resumed, whichever is later (what a failure report keeps)."""
    end = max(rec.t_reset or rec.t_clear, (result.t_resume or 0.0) if result else 0.0)
    lo, hi = rec.t_fault - before, end + after
    return {side: [e for e in records if lo <= e['t'] <= hi]
            for side, records in (('robot', rec.robot), ('policy', rec.policy))}


def gate_bounds() -> Bounds:
    """The bounds of the installed gate, read from its shipped base parameter file (with
    PyYAML, not through the gate's own config code)."""
    import yaml
    from ament_index_python.packages import get_package_share_directory

    path = os.path.join(get_package_share_directory('vla_safety'), 'config',
                        'safety_gate.param.yaml')
    with open(path) as f:
        p = next(iter(yaml.safe_load(f).values()))['ros__parameters']
    lim = p['limits']
    return Bounds(command_timeout=p['command_timeout'],
                  heartbeat_timeout=p['heartbeat_timeout'], tick=1.0 / p['rate'],
                  max_vx_forward=lim['max_vel_x_forward'],
                  max_vx_backward=lim['max_vel_x_backward'], max_vy=lim['max_vel_y'],
                  max_wz=lim['max_vel_yaw'], max_planar=lim['max_planar_speed'])


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 90, 99)) -> Dict[str, float]:
    """Nearest-rank percentiles plus n, min and max ({} when empty)."""
    v = sorted(values)
    if not v:
        return {}
    out = {'n': float(len(v)), 'min': v[0], 'max': v[-1]}
    for q in qs:
        k = max(0, min(len(v) - 1, int(math.ceil(q / 100.0 * len(v))) - 1))
        out[f'p{q:g}'] = v[k]
    return out
