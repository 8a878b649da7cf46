"""Message conversions of the policy node: ROS messages <-> the executive's plain types.

Functions only (no node state), so the node itself keeps to wiring, timers and the worker.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist
from sensor_msgs.msg import Image
from vla_common.image import fill_image
from vla_common.planar import quaternion_to_yaw
from vla_msgs.msg import (ActionChunk, ArmCommand, Instruction, PolicyStatus, SafetyState,
                          TaskResult)

from .execution import executive as ex
from .execution import supervisor as sv
from .execution.executive import ChunkOut, InstructionInput, Snapshot, TaskOut
from .preflight import budget_values, PreflightReport


def odom_pose(msg: Any) -> Tuple[float, float, float]:
    """An Odometry's planar pose (x, y, yaw about z)."""
    p, q = msg.pose.pose.position, msg.pose.pose.orientation
    return (p.x, p.y, quaternion_to_yaw(q.x, q.y, q.z, q.w))


def scan_geometry(msg: Any) -> Tuple[float, float, float, float]:
    """A LaserScan's (angle_min, angle_increment, range_min, range_max)."""
    return (msg.angle_min, msg.angle_increment, msg.range_min, msg.range_max)


SAFETY_STATE_NAMES = {SafetyState.STATE_OK: 'OK', SafetyState.STATE_LIMITED: 'LIMITED',
                      SafetyState.STATE_STOPPED: 'STOPPED', SafetyState.STATE_ESTOP: 'ESTOP'}
STATE_CODES = {sv.UNCONFIGURED: PolicyStatus.STATE_UNCONFIGURED, sv.IDLE: PolicyStatus.STATE_IDLE,
               sv.RUNNING: PolicyStatus.STATE_RUNNING, sv.PAUSED: PolicyStatus.STATE_PAUSED,
               sv.ERROR: PolicyStatus.STATE_ERROR, sv.DONE: PolicyStatus.STATE_DONE}
INSTRUCTION_STATUS = {Instruction.STATUS_UNDERSTOOD: ex.UNDERSTOOD,
                      Instruction.STATUS_NOT_UNDERSTOOD: ex.NOT_UNDERSTOOD,
                      Instruction.STATUS_STOP: ex.STOP, Instruction.STATUS_UNPARSED: ex.UNPARSED,
                      Instruction.STATUS_REFUSED: ex.REFUSED}
RESULT_CODES = {ex.RESULT_DONE: TaskResult.RESULT_DONE,
                ex.RESULT_REFUSED: TaskResult.RESULT_REFUSED,
                ex.RESULT_CANCELLED: TaskResult.RESULT_CANCELLED,
                ex.RESULT_PREEMPTED: TaskResult.RESULT_PREEMPTED,
                ex.RESULT_FAILED: TaskResult.RESULT_FAILED}
DIAGNOSTIC_LEVELS = {sv.ERROR: DiagnosticStatus.ERROR, sv.UNCONFIGURED: DiagnosticStatus.ERROR,
                     sv.PAUSED: DiagnosticStatus.WARN}


def stamp_ns(stamp: Any) -> int:
    """builtin_interfaces/Time -> integer nanoseconds (exact)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def set_stamp(header: Any, ns: int) -> None:
    header.stamp.sec, header.stamp.nanosec = divmod(int(ns), 1_000_000_000)


def instruction_input(msg: Instruction) -> InstructionInput:
    """An unknown status is refused, never executed."""
    status = INSTRUCTION_STATUS.get(msg.status, ex.REFUSED)
    reason = msg.reason or ('' if msg.status in INSTRUCTION_STATUS
                            else f'unknown instruction status {msg.status}')
    return InstructionInput(msg.id, msg.text, status, msg.canonical, msg.language,
                            stamp_ns(msg.header.stamp), reason)


def task_result(out: TaskOut, stamp: Any) -> TaskResult:
    msg = TaskResult()
    msg.header.stamp = stamp
    msg.instruction_id = out.instruction_id
    msg.result = RESULT_CODES[out.result]
    msg.reason = out.reason
    msg.duration = float(out.duration)
    msg.inference_count = int(out.inference_count)
    return msg


def safety_state_name(msg: SafetyState) -> str:
    return SAFETY_STATE_NAMES.get(msg.state, str(msg.state))


def command_message(action: Optional[np.ndarray], action_space: str, frame_id: str,
                    stamp: Any) -> Any:
    """A Twist (base) or ArmCommand (arm); `action` None is a stop.

    The policy's stops are routine (a new instruction, the queue running dry, a pause, done):
    for the arm that is MODE_HOLD (stop streaming, hold the last target), never MODE_STOP,
    the driver's hard stop, which belongs to the e-stop alone.
    """
    if action_space == 'base':
        msg = Twist()
        if action is not None:
            msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in action[:3])
        return msg
    msg = ArmCommand()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    if action is None:
        msg.mode = ArmCommand.MODE_HOLD
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
    if out.done is not None:
        msg.done = [float(v) for v in np.asarray(out.done).reshape(-1)]
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
    msg.detail = snap.detail
    return msg


def diagnostic_status(level: int, name: str, message: str, hardware_id: str,
                      values: Dict[str, Any]) -> DiagnosticStatus:
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id)
    status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
    return status


def diagnostics(node_name: str, verdict: sv.Verdict, model_id: str, values: Dict[str, Any],
                report: Optional[PreflightReport], budget: Any, stamp: Any) -> DiagnosticArray:
    """/diagnostics: the policy's state and figures, and the last configure's preflight."""
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = [diagnostic_status(DIAGNOSTIC_LEVELS.get(verdict.state, DiagnosticStatus.OK),
                                    f'{node_name}: policy', verdict.reason or verdict.state,
                                    model_id, values)]
    if report is not None:
        msg.status.append(diagnostic_status(
            (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR)[report.level],
            f'{node_name}: preflight', report.summary(), report.device.model or 'not a Jetson',
            budget_values(report, budget)))
    return msg
