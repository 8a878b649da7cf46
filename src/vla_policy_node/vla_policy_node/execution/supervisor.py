"""What state the policy is in, from its inputs, and whether it may command the robot.

The node gathers the facts (`Inputs`); `evaluate` turns them into a `Verdict`: one of the
`PolicyStatus` states, a human-readable reason, and whether inference and commands are
allowed. Keeping this pure makes every "no command because ..." rule a unit test.

Pure Python.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Deque, Iterable, Optional, Sequence, Tuple

import numpy as np

UNCONFIGURED = 'unconfigured'
IDLE = 'idle'
RUNNING = 'running'
PAUSED = 'paused'
ERROR = 'error'
DONE = 'done'

#: `PolicyStatus.detail` of a configured but not (yet) active node: IDLE, and an instruction
#: stamped now would be refused (it predates the activation). Clients wait past it.
INACTIVE_DETAIL = 'node inactive'

#: SafetyState reasons (names) that pause the policy: the robot cannot or must not move and
#: only an explicit change (reset, sensor back) ends them. NO_COMMAND / COMMAND_TIMEOUT /
#: HEARTBEAT_LOST are not among them: the gate reports them because the policy is quiet, and
#: pausing on them would deadlock.
DEFAULT_PAUSE_REASONS = ('ESTOP', 'INACTIVE', 'ODOM_TIMEOUT', 'SCAN_TIMEOUT',
                         'JOINT_STATE_TIMEOUT')


def safety_blocks(state_name: str, reason_names: Iterable[str],
                  pause_reasons: Sequence[str] = DEFAULT_PAUSE_REASONS) -> Tuple[bool, str]:
    """Whether a SafetyState pauses the policy, and why ('' when not)."""
    if state_name == 'ESTOP':
        return True, 'safety gate: e-stop engaged'
    if state_name == 'STOPPED':
        hits = [r for r in reason_names if r in pause_reasons]
        if hits:
            return True, 'safety gate stopped: ' + ', '.join(hits)
    return False, ''


@dataclass
class Inputs:
    """Facts about the node's inputs at one instant (ages in seconds, None = never seen)."""

    active: bool = False
    model_loaded: bool = False
    model_error: str = ''
    instruction_id: str = ''
    task_done: bool = False           # no instruction because the policy ended the last one
    image_age: Optional[float] = None
    image_error: str = ''
    image_timeout: float = 0.5
    state_required: bool = False
    state_age: Optional[float] = None
    state_timeout: float = 0.5
    safety_blocked: bool = False
    safety_reason: str = ''
    inference_error: str = ''


@dataclass(frozen=True)
class Verdict:
    """The outcome: state, reason, and what is allowed.

    `key` names the rule that decided (stable while the reason text changes, e.g. an age),
    so callers log and publish on changes of (state, key) only.
    """

    state: str
    reason: str = ''
    key: str = ''
    retry: bool = False

    @property
    def may_infer(self) -> bool:
        """RUNNING, or a failed inference whose inputs are fine (retried after a back-off)."""
        return self.state == RUNNING or self.retry

    @property
    def may_command(self) -> bool:
        return self.state == RUNNING

    @property
    def healthy(self) -> bool:
        """Alive and sane (heartbeat): not in error, model loaded, node active."""
        return self.state in (IDLE, RUNNING, PAUSED, DONE)


def evaluate(i: Inputs) -> Verdict:
    """State from inputs, most serious first: model, inputs, instruction, safety, errors.

    A refused instruction is not a fault of the policy: it leaves the policy IDLE (the
    executive reports why), never ERROR.
    """
    if not i.model_loaded:
        return Verdict(ERROR if i.model_error else UNCONFIGURED,
                       i.model_error or 'no model loaded', 'model:' + i.model_error)
    if not i.active:
        return Verdict(IDLE, INACTIVE_DETAIL, 'inactive')
    if i.image_error:
        return Verdict(ERROR, i.image_error, 'image:' + i.image_error)
    if not i.instruction_id:
        if i.task_done:
            return Verdict(DONE, 'task done: waiting for a new instruction', 'done')
        return Verdict(IDLE, 'waiting for a new instruction', 'no_instruction')
    pause = _pause(i)
    if i.inference_error:
        return Verdict(ERROR, i.inference_error, 'inference:' + i.inference_error,
                       retry=pause is None)
    if pause is not None:
        return pause
    return Verdict(RUNNING, '', 'running')


def _missing_or_stale(what: str, key: str, age: Optional[float],
                      timeout: float) -> Optional[Verdict]:
    """PAUSED while an input has never arrived or is older than its timeout."""
    if age is None:
        return Verdict(PAUSED, f'no {what} yet', f'no_{key}')
    if age > timeout:
        return Verdict(PAUSED, f'{what} stale ({age:.2f} s > {timeout:.2f} s)', f'{key}_stale')
    return None


def _pause(i: Inputs) -> Optional[Verdict]:
    """The PAUSED verdict for stale/missing inputs or a blocking safety gate, if any."""
    stale = _missing_or_stale('camera image', 'image', i.image_age, i.image_timeout)
    if stale is None and i.state_required:
        stale = _missing_or_stale('robot state', 'state', i.state_age, i.state_timeout)
    if stale is not None:
        return stale
    if i.safety_blocked:
        return Verdict(PAUSED, i.safety_reason or 'safety gate stopped',
                       'safety:' + i.safety_reason)
    return None


class LatencyWindow:
    """Recent latencies (ms) with percentiles."""

    def __init__(self, size: int = 200) -> None:
        self._values: Deque[float] = collections.deque(maxlen=size)
        self.last = 0.0

    def add(self, ms: float) -> None:
        self.last = float(ms)
        self._values.append(float(ms))

    def __len__(self) -> int:
        return len(self._values)

    def percentile(self, q: float) -> float:
        if not self._values:
            return 0.0
        return float(np.percentile(np.fromiter(self._values, dtype=np.float64), q))
