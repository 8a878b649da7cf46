"""What one episode of a stack run amounts to: the report `EpisodeSession` fills, `demo`
prints and `vla_evaluate` tabulates. Pure (no rclpy, no messages): the session adapter
translates EpisodeResult / PolicyStatus / SafetyState fields into the plain values these take.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

#: The policy's trigger counters (`PolicyStatus.trigger_counts_<name>`).
TRIGGERS = ('instruction', 'queue_low', 'scene_change', 'state_change', 'safety_resume',
            'keepalive', 'periodic')

#: SafetyState reasons by what they do to a command. Shaping changes a command and lets it
#: through (the acceleration ramp, the slowdown zone, limits); an override replaces it by a
#: stop; idle means there was no command to pass (none yet, or the last one is stale).
SHAPING_REASONS = frozenset({'VELOCITY_LIMITED', 'ACCEL_LIMITED', 'GEOFENCE',
                             'OBSTACLE_SLOWDOWN', 'WORKSPACE', 'JOINT_LIMIT', 'STEP_LIMITED'})
IDLE_REASONS = frozenset({'NO_COMMAND', 'COMMAND_TIMEOUT'})
SAFETY_CLASSES = ('free', 'shaping', 'override', 'idle')


def safety_class(reason_names: Sequence[str]) -> str:
    """'override' if any reason stops the command, else 'shaping', 'idle' or 'free'."""
    names = set(reason_names)
    if names - SHAPING_REASONS - IDLE_REASONS:
        return 'override'
    if names & SHAPING_REASONS:
        return 'shaping'
    return 'idle' if names else 'free'


def safety_time_fractions(changes: Sequence[Tuple[float, Sequence[str]]], t0: float,
                          t1: float) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Fractions of [t0, t1] the gate spent in each class, and with each reason set.

    `changes`: (time, reason names) of every SafetyState the gate published (it publishes one
    on every change), in any order; the state before the first one inside the window is the
    last one before it.
    """
    span = t1 - t0
    classes = {c: 0.0 for c in SAFETY_CLASSES}
    reasons: Dict[str, float] = {}
    if span <= 0.0 or not changes:
        return classes, reasons
    ordered = sorted(changes, key=lambda c: c[0])
    current: Optional[Sequence[str]] = None
    for t, names in ordered:
        if t <= t0:
            current = names
    edges = [(t0, current)] + [(t, n) for t, n in ordered if t0 < t < t1] + [(t1, None)]
    for (a, names), (b, _) in zip(edges, edges[1:]):
        if names is None:
            continue          # nothing known yet about the gate
        share = (b - a) / span
        classes[safety_class(names)] += share
        for name in names:
            reasons[name] = reasons.get(name, 0.0) + share
    return classes, reasons


def reaction_time(change: float, chunks: Sequence[Tuple[float, float]],
                  commands: Sequence[float]) -> float:
    """Seconds from a scene change at `change` to the first command that reacts to it.

    `chunks`: (arrival time, observation stamp) of the policy's action chunks; `commands`:
    arrival times of its commands (`cmd_vel_in`), all on one clock (sim time). The first
    chunk predicted from an observation taken at or after the change is the first that can
    know about it; the first command after that chunk arrived is the reaction. -1 when there
    was no change, NaN when the policy never reacted.
    """
    if change < 0.0:
        return -1.0
    informed = [arrival for arrival, observed in chunks if observed >= change - 1e-6]
    if not informed:
        return math.nan
    after = [t for t in commands if t >= min(informed)]
    return min(after) - change if after else math.nan


def trigger_deltas(before: Mapping[str, int], after: Mapping[str, int]) -> Dict[str, int]:
    """The inferences of one episode by trigger: the policy's cumulative counters, differenced
    (triggers that did not fire are left out)."""
    return {k: after[k] - before[k] for k in TRIGGERS if after[k] - before[k]}


@dataclass
class EpisodeReport:
    scenario: str
    seed: int
    instruction: str
    model: str
    outcome: str = 'not_started'
    ended_by: str = 'none'
    success: bool = False     # the simulator's verdict: at rest inside, no collision, sides
    time: float = 0.0
    path_length: float = 0.0
    min_clearance: float = 0.0
    passed_side: str = 'none'
    passed_sides: List[str] = field(default_factory=list)
    commanded_side: str = 'none'
    side_correct: bool = False
    at_rest: bool = False
    overshoot: bool = False
    final_distance: float = math.nan
    final_error: float = math.nan
    placement: str = 'plain'        # the layout's seed namespace and spread (to redraw it)
    layout_spread: float = 1.0
    perturbation: str = ''
    perturbation_time: float = -1.0
    reaction_time: float = -1.0
    inferences: int = 0
    triggers: Dict[str, int] = field(default_factory=dict)
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    #: fraction of the task time the gate spent in each class (SAFETY_CLASSES)
    safety_time: Dict[str, float] = field(default_factory=dict)
    #: fraction of the task time each gate reason was active
    safety_reasons: Dict[str, float] = field(default_factory=dict)
    trajectory: List[List[float]] = field(default_factory=list)
    bag: str = ''
    wall_time: float = 0.0
    realtime_factor: float = 0.0   # task sim time / its wall time (1.0 = real time)
    #: how the policy ended the instruction (its TaskResult): done, refused, cancelled,
    #: preempted, failed, or '' when it had not ended it when the episode ended
    task_result: str = ''
    policy_error: str = ''    # the policy's last status error (e.g. instruction not understood)

    def set_result(self, outcome: str, time: float, path_length: float, min_clearance: float,
                   passed_sides: Sequence[str], commanded_side: str, ended_by: str = 'none',
                   success: bool = False, at_rest: bool = False, overshoot: bool = False,
                   final_distance: float = math.nan, final_error: float = math.nan) -> None:
        """The simulator's verdict. The side is correct only when every box was passed, each
        on the commanded side."""
        self.outcome = outcome
        self.ended_by = ended_by
        self.success = bool(success)
        self.time = time
        self.path_length = path_length
        self.min_clearance = min_clearance
        self.passed_sides = list(passed_sides)
        self.passed_side = self.passed_sides[0] if self.passed_sides else 'none'
        self.commanded_side = commanded_side
        self.side_correct = bool(self.passed_sides) and commanded_side != 'none' and all(
            s == commanded_side for s in self.passed_sides)
        self.at_rest = bool(at_rest)
        self.overshoot = bool(overshoot)
        self.final_distance = final_distance
        self.final_error = final_error

    def set_triggers(self, before: Mapping[str, int], after: Mapping[str, int]) -> None:
        """Inferences of this episode: the policy's cumulative counters, differenced."""
        self.triggers = trigger_deltas(before, after)
        self.inferences = sum(self.triggers.values())

    def to_dict(self) -> Dict[str, object]:
        """Everything but the trajectory, NaN as None (strict JSON)."""
        data = asdict(self)
        data.pop('trajectory')
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in data.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
