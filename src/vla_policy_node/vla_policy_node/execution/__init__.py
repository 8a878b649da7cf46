"""Event-triggered execution (pure: no rclpy, no messages, explicit time).

`triggers` decides when to infer and why, `chunk_queue` turns predicted chunks into one
action per control tick (latency-aligned, blended), `supervisor` says what state the policy
is in and whether it may command the robot, `executive` combines them into every decision
the policy node makes, and `lockstep` runs the executive on simulated time (rollouts, tests).
"""

from .chunk_queue import ActionChunkQueue, BLEND_MODES, PushResult
from .executive import (Executive, ExecutiveConfig, InferenceJob, InferenceResult,
                        InstructionInput, ModelInfo, Output, run_job)
from .lockstep import Lockstep
from .supervisor import (DEFAULT_PAUSE_REASONS, evaluate, Inputs, LatencyWindow, safety_blocks,
                         Verdict)
from .triggers import (PRIORITY, scene_distance, scene_thumbnail, sudden_change, TRIGGER_MODES,
                       TriggerConfig, TriggerDecision, TriggerEngine, TriggerStats)

__all__ = ['ActionChunkQueue', 'BLEND_MODES', 'DEFAULT_PAUSE_REASONS', 'evaluate', 'Executive',
           'ExecutiveConfig', 'InferenceJob', 'InferenceResult', 'Inputs', 'InstructionInput',
           'LatencyWindow', 'Lockstep', 'ModelInfo', 'Output', 'PRIORITY', 'PushResult',
           'run_job', 'safety_blocks', 'scene_distance', 'scene_thumbnail', 'sudden_change',
           'TRIGGER_MODES', 'TriggerConfig', 'TriggerDecision', 'TriggerEngine', 'TriggerStats',
           'Verdict']
