"""What one episode of a stack run amounts to: the report `EpisodeSession` fills, `demo`
prints and `vla_evaluate` tabulates. Pure (no rclpy, no messages): the session adapter
translates EpisodeResult / PolicyStatus fields into the plain values these take.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Mapping

#: The policy's trigger counters (`PolicyStatus.trigger_counts_<name>`).
TRIGGERS = ('instruction', 'queue_low', 'scene_change', 'state_change', 'safety_resume',
            'keepalive', 'periodic')


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
    time: float = 0.0
    path_length: float = 0.0
    min_clearance: float = 0.0
    passed_side: str = 'none'
    commanded_side: str = 'none'
    side_correct: bool = False
    inferences: int = 0
    triggers: Dict[str, int] = field(default_factory=dict)
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    safety_interventions: int = 0
    safety_states: Dict[str, int] = field(default_factory=dict)
    trajectory: List[List[float]] = field(default_factory=list)
    bag: str = ''
    wall_time: float = 0.0
    policy_error: str = ''    # the policy's last status error (e.g. instruction not understood)

    def set_result(self, outcome: str, time: float, path_length: float, min_clearance: float,
                   passed_side: str, commanded_side: str) -> None:
        """The simulator's verdict; the side is correct only if one was passed and commanded."""
        self.outcome = outcome
        self.time = time
        self.path_length = path_length
        self.min_clearance = min_clearance
        self.passed_side = passed_side
        self.commanded_side = commanded_side
        self.side_correct = passed_side == commanded_side and passed_side != 'none'

    def set_triggers(self, before: Mapping[str, int], after: Mapping[str, int]) -> None:
        """Inferences of this episode: the policy's cumulative counters, differenced."""
        self.triggers = trigger_deltas(before, after)
        self.inferences = sum(self.triggers.values())

    def to_json(self) -> str:
        data = asdict(self)
        data.pop('trajectory')
        return json.dumps(data, indent=2, ensure_ascii=False)
