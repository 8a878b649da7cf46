"""Message conversions of the policy node: ROS messages <-> the executive's plain types.

Functions only (no node state), so the node itself keeps to wiring, timers and the worker.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist
from sensor_msgs.msg import Image
from vla_common.image import fill_image
from vla_msgs.msg import ActionChunk, ArmCommand, Instruction, PolicyStatus, SafetyState

from .execution import supervisor as sv
from .execution.executive import ChunkOut, InstructionInput, Snapshot

SAFETY_STATE_NAMES = {SafetyState.STATE_OK: 'OK', SafetyState.STATE_LIMITED: 'LIMITED',
                      SafetyState.STATE_STOPPED: 'STOPPED', SafetyState.STATE_ESTOP: 'ESTOP'}
STATE_CODES = {sv.UNCONFIGURED: PolicyStatus.STATE_UNCONFIGURED, sv.IDLE: PolicyStatus.STATE_IDLE,
               sv.RUNNING: PolicyStatus.STATE_RUNNING, sv.PAUSED: PolicyStatus.STATE_PAUSED,
               sv.ERROR: PolicyStatus.STATE_ERROR}
INSTRUCTION_STATUS = {Instruction.STATUS_UNDERSTOOD: 'understood',
                      Instruction.STATUS_NOT_UNDERSTOOD: 'not_understood',
                      Instruction.STATUS_STOP: 'stop', Instruction.STATUS_UNPARSED: 'unparsed',
                      Instruction.STATUS_REFUSED: 'refused'}
DIAGNOSTIC_LEVELS = {sv.ERROR: DiagnosticStatus.ERROR, sv.UNCONFIGURED: DiagnosticStatus.ERROR,
                     sv.PAUSED: DiagnosticStatus.WARN}


def stamp_ns(stamp: Any) -> int:
    """builtin_interfaces/Time -> integer nanoseconds (exact)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def set_stamp(header: Any, ns: int) -> None:
    header.stamp.sec, header.stamp.nanosec = divmod(int(ns), 1_000_000_000)


def instruction_input(msg: Instruction) -> InstructionInput:
    # An unknown status is never acted on (the executive moves on understood/unparsed only).
    return InstructionInput(msg.id, msg.text, INSTRUCTION_STATUS.get(msg.status, 'unknown'),
                            msg.canonical, msg.language)


def safety_state_name(msg: SafetyState) -> str:
    return SAFETY_STATE_NAMES.get(msg.state, str(msg.state))


def command_message(action: Optional[np.ndarray], action_space: str, frame_id: str,
                    stamp: Any) -> Any:
    """A Twist (base) or ArmCommand (arm); `action` None is a stop."""
    if action_space == 'base':
        msg = Twist()
        if action is not None:
            msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in action[:3])
        return msg
    msg = ArmCommand()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    if action is None:
        msg.mode = ArmCommand.MODE_STOP
    else:
        msg.mode = ArmCommand.MODE_END_EFFECTOR_DELTA
        msg.ee_delta = [float(v) for v in action[:6]]
        msg.gripper = float(min(1.0, max(0.0, action[6])))
    return msg


def chunk_message(out: ChunkOut, action_space: str, dt: float) -> ActionChunk:
    """~/action_chunk: stamped with the source image, indexed by control step."""
    job, chunk = out.job, out.actions
    msg = ActionChunk()
    set_stamp(msg.header, job.image_stamp_ns)
    msg.action_space = ActionChunk.ACTION_SPACE_BASE if action_space == 'base' \
        else ActionChunk.ACTION_SPACE_ARM
    msg.instruction_id = job.instruction_id
    msg.dt = float(dt)
    msg.steps, msg.dims = int(chunk.shape[0]), int(chunk.shape[1])
    msg.data = [float(v) for v in chunk.reshape(-1)]
    msg.first_step_index = int(out.first_step)
    return msg


def debug_image(out: ChunkOut, action_space: str) -> Image:
    """~/debug/image: the inference frame with the chunk drawn on it."""
    from .visualize import draw_debug

    job = out.job
    obs = job.observation
    reason = job.decision.reason if job.decision else ''
    img = draw_debug(obs.images()[0], out.actions, action_space, obs.instruction,
                     obs.canonical, job.instruction_id, reason, out.latency_ms)
    msg = fill_image(Image(), img, 'rgb8')
    set_stamp(msg.header, job.image_stamp_ns)
    msg.header.frame_id = 'camera_optical_frame'
    return msg


def status_message(snap: Snapshot, backend: str, model_id: str, action_space: str,
                   stamp: Any) -> PolicyStatus:
    msg = PolicyStatus()
    msg.header.stamp = stamp
    msg.state = STATE_CODES[snap.state]
    msg.backend = backend
    msg.model_id = model_id
    msg.action_space = action_space
    msg.last_trigger = snap.last_trigger or PolicyStatus.TRIGGER_NONE
    msg.latency_last_ms = snap.latency_last_ms
    msg.latency_p50_ms = snap.latency_p50_ms
    msg.latency_p95_ms = snap.latency_p95_ms
    msg.queue_depth = snap.queue_depth
    msg.inference_count = snap.inference_count
    for reason, count in snap.trigger_counts.items():
        setattr(msg, f'trigger_counts_{reason}', int(count))
    msg.instruction_id = snap.instruction_id
    msg.error = snap.error
    return msg


def diagnostic_status(level: int, name: str, message: str, hardware_id: str,
                      values: Dict[str, Any]) -> DiagnosticStatus:
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id)
    status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
    return status
