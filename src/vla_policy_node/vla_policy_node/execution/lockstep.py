"""The executive on simulated time with synchronous inference: rollouts and tests.

`Lockstep.step(image)` is one control period: the frame arrives, the executive decides (and,
when a trigger fires, the policy runs right there, taking no simulated time), and the
command of this period comes back. This is the policy node's own chunk-execution loop —
triggers, latency-aligned blending, states — without ROS, so a direct-stepping simulation
executes chunks exactly as the node does.

Pure Python + numpy.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .executive import (Executive, ExecutiveConfig, InferenceJob, InferenceResult,
                        InstructionInput, ModelInfo, Output, run_job, TaskOut, UNDERSTOOD)


class Lockstep:
    """Drive an Executive one control period at a time (clock starts at `start` s)."""

    def __init__(self, policy: Any, config: ExecutiveConfig = ExecutiveConfig(),
                 infer: Optional[Callable[[InferenceJob], InferenceResult]] = None,
                 start: float = 1.0) -> None:
        self.policy = policy
        self.now = float(start)
        self.executive = Executive(config, infer or (lambda job: run_job(policy, job)))
        self.outputs = Output()   # everything the executive asked for, in order
        cfg = policy.config
        self._collect(self.executive.set_model(
            ModelInfo(True, '', cfg.condition_on, int(cfg.state_dim),
                      bool(getattr(policy, 'has_done_signal', False))), self.now))
        self._collect(self.executive.activate(self.now))

    @property
    def period(self) -> float:
        return self.executive.config.period

    def instruct(self, text: str, canonical: str = '', instruction_id: str = 'lockstep'
                 ) -> None:
        self._collect(self.executive.on_instruction(
            InstructionInput(instruction_id, text, UNDERSTOOD, canonical,
                             stamp_ns=int(round(self.now * 1e9))), self.now))

    @property
    def result(self) -> Optional[TaskOut]:
        """How the last instruction ended (None while it runs or before any)."""
        return self.outputs.results[-1] if self.outputs.results else None

    def step(self, image: np.ndarray, state: Optional[np.ndarray] = None
             ) -> Optional[np.ndarray]:
        """One control period; the command it publishes (zeros for a stop; None: none)."""
        ex, now, stamp = self.executive, self.now, int(round(self.now * 1e9))
        out = ex.on_image(image, stamp, now)
        if state is not None:
            out.merge(ex.on_state(np.asarray(state, np.float64), stamp, now))
        out.merge(ex.control_tick(now))
        self._collect(out)
        self.now += self.period
        if not out.commands:
            return None
        last = out.commands[-1]
        return np.zeros(self.policy.action_space.dims) if last is None else last

    def _collect(self, out: Output) -> None:
        self.outputs.merge(out)
