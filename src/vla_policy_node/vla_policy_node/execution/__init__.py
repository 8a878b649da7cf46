"""Event-triggered execution (pure: no rclpy, no messages, explicit time).

`triggers` decides when to infer and why, `chunk_queue` turns predicted chunks into one
action per control tick (latency-aligned, blended), `supervisor` says what state the policy
is in and whether it may command the robot.
"""

from .chunk_queue import ActionChunkQueue, BLEND_MODES, PushResult
from .supervisor import (DEFAULT_PAUSE_REASONS, evaluate, Inputs, LatencyWindow, safety_blocks,
                         Verdict)
from .triggers import (PRIORITY, scene_distance, scene_thumbnail, TRIGGER_MODES, TriggerConfig,
                       TriggerDecision, TriggerEngine, TriggerStats)

__all__ = ['ActionChunkQueue', 'BLEND_MODES', 'DEFAULT_PAUSE_REASONS', 'evaluate', 'Inputs',
           'LatencyWindow', 'PRIORITY', 'PushResult', 'safety_blocks', 'scene_distance',
           'scene_thumbnail', 'TRIGGER_MODES', 'TriggerConfig', 'TriggerDecision',
           'TriggerEngine', 'TriggerStats', 'Verdict']
