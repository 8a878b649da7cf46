"""What one tabletop episode of the arm stack amounts to: the report `ArmEpisodeSession` fills,
the arm demo prints and writes as result.json, and `vla_evaluate` tabulates. Pure (no rclpy,
no messages): the session translates ArmEpisodeResult / PolicyStatus into these plain values.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Mapping, Sequence, Tuple

from vla_common.arm_verdict import ArmVerdict

from vla_bringup.core.episode import trigger_deltas

Vec3 = Tuple[float, float, float]

#: mm the tool point may pass the gate's workspace box before it counts as a violation (the
#: controller finishes the last accepted step; the gate never commands past the box).
WORKSPACE_TOLERANCE = 0.005


@dataclass(kw_only=True)
class ArmEpisodeReport(ArmVerdict):
    """The simulator's verdict (empty until its result arrives) and what the episode took."""

    task: str
    seed: int
    instruction: str
    model: str
    arm_model: str = 'RM75'
    outcome: str = 'not_started'      # success | failed | timed_out | no_result | not_started
    object_start: Sequence[float] = ()
    object_end: Sequence[float] = ()
    tcp_min: Sequence[float] = ()
    tcp_max: Sequence[float] = ()
    target_object: str = ''
    workspace_violation: bool = False
    hard_stops: int = 0               # /rm_driver/move_stop_cmd received by the arm
    commands_ignored: int = 0         # driver commands the arm refused
    task_result: str = ''             # how the policy ended the instruction (TaskResult)
    inferences: int = 0
    triggers: Dict[str, int] = field(default_factory=dict)
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    safety_interventions: int = 0
    safety_states: Dict[str, int] = field(default_factory=dict)
    ee_path: List[List[float]] = field(default_factory=list)    # [x, y, z] of the tool point
    bag: str = ''
    wall_time: float = 0.0
    policy_error: str = ''

    def set_triggers(self, before: Mapping[str, int], after: Mapping[str, int]) -> None:
        self.triggers = trigger_deltas(before, after)
        self.inferences = sum(self.triggers.values())

    def check_workspace(self, box_min: Sequence[float], box_max: Sequence[float]) -> bool:
        """Whether the tool point ever left the gate's workspace box (beyond the tolerance)."""
        if not self.tcp_min or not all(math.isfinite(v) for v in (*self.tcp_min, *self.tcp_max)):
            return False
        self.workspace_violation = any(
            lo - WORKSPACE_TOLERANCE > t for lo, t in zip(box_min, self.tcp_min)) or any(
            hi + WORKSPACE_TOLERANCE < t for hi, t in zip(box_max, self.tcp_max))
        return self.workspace_violation

    def to_json(self) -> str:
        data = asdict(self)
        data.pop('ee_path')
        return json.dumps(data, indent=2, ensure_ascii=False)


__all__ = ['ArmEpisodeReport', 'WORKSPACE_TOLERANCE']
