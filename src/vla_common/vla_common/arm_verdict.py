"""The verdict on one tabletop episode of the arm, one definition for both ends: arm_sim's
judge decides it, `vla_msgs/ArmEpisodeResult` carries it between the processes (outcome as
its OUTCOME_* code), and the bringup's episode report (result.json) records it.

Pure: no rclpy, no message types (a test checks the codes against the message's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Sequence

OUTCOME_RUNNING = 'running'
OUTCOME_SUCCESS = 'success'      # ended by the policy with every success rule met
OUTCOME_FAILED = 'failed'        # ended by the policy without meeting them
OUTCOME_TIMED_OUT = 'timed_out'  # the time limit ran out before the policy ended its task

#: outcome -> `ArmEpisodeResult.OUTCOME_*`, and back.
OUTCOME_CODES: Dict[str, int] = {OUTCOME_RUNNING: 0, OUTCOME_SUCCESS: 1, OUTCOME_FAILED: 2,
                                 OUTCOME_TIMED_OUT: 3}
OUTCOMES: Dict[int, str] = {code: name for name, code in OUTCOME_CODES.items()}


@dataclass
class ArmVerdict:
    """What the simulator judged of an episode (docs/arm.md has the rules). Positions are
    [x, y, z] in m in the arm base frame."""

    outcome: str = OUTCOME_RUNNING
    ended_by: str = ''                   # 'policy', 'timeout', or '' while running
    time: float = 0.0                    # s of sim time since the episode's first instruction
    grasped: bool = False                # the target object was held and lifted (>= 3 cm)
    placed: bool = False                 # the object satisfies the task's place / reach rule
    released: bool = False               # nothing held, gripper open
    retracted: bool = False              # tool point >= 0.15 m above the table
    still: bool = False                  # every joint slower than 0.05 rad/s for the last 1 s
    success: bool = False                # every rule of the task holds
    object_start: Sequence[float] = (0.0, 0.0, 0.0)
    object_end: Sequence[float] = (0.0, 0.0, 0.0)
    tcp_min: Sequence[float] = (math.inf, math.inf, math.inf)    # the box the tool point
    tcp_max: Sequence[float] = (-math.inf, -math.inf, -math.inf)  # stayed in
    disturbed: Sequence[str] = ()        # other objects moved by more than 0.03 m

    def stages(self) -> str:
        """The stages of the task reached so far, for logs."""
        return (f'grasped {self.grasped}, placed {self.placed}, released {self.released}, '
                f'retracted {self.retracted}, still {self.still}')


__all__ = ['ArmVerdict', 'OUTCOME_CODES', 'OUTCOME_FAILED', 'OUTCOME_RUNNING', 'OUTCOME_SUCCESS',
           'OUTCOME_TIMED_OUT', 'OUTCOMES']
