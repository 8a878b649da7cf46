"""The policy node's executive: every decision the node makes, with no ROS in it.

The node (`policy_node.py`) is an adapter: it converts messages into the calls below, owns
timers, publishers and the inference worker thread, and carries out the `Output` each call
returns. Everything stateful lives here, driven by explicit time (`now`, seconds of the node's
clock) so that tests run it on a simulated clock.

The instruction lifecycle: an instruction is accepted only when it is fresh — stamped after
this activation and at most `instruction_max_age` old (a restarted policy never acts on the
latched instruction it finds) — and it ends exactly once, with a `TaskOut` result: DONE (the
policy's termination signal held for `done_steps` executed steps), REFUSED (not understood,
refused by the normaliser, empty, stale), CANCELLED (a stop word, an e-stop), PREEMPTED (a
newer instruction) or FAILED (the policy went inactive). An ended instruction is consumed: it
never moves the robot again.

  inputs      on_image / reject_image / on_state / on_scan / on_safety / on_instruction
  time        control_tick (one per control period), tick (re-evaluate, maybe start a job)
  inference   jobs are emitted in `Output.jobs` and answered with `on_result`; or, with an
              injected `infer` callable, run synchronously inside the call that starts them
  lifecycle   set_model / activate / deactivate / reconfigure

An `Output` lists what to publish (commands, a stop, chunks, status), the jobs to start and
what to log. One inference runs at a time; a result for an older queue generation (a new
instruction, a flush) is discarded.

Pure Python + numpy (no rclpy, no messages).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..policies.errors import NonFiniteActionError, ObservationError
from ..policies.observation import Observation
from . import supervisor as sv
from .chunk_queue import ActionChunkQueue
from .scan_change import PlanarScan, ScanChangeConfig, ScanChangeDetector, ScanChangeError
from .supervisor import DEFAULT_PAUSE_REASONS, evaluate, Inputs, LatencyWindow, safety_blocks
from .supervisor import Verdict
from .triggers import (INSTRUCTION, SAFETY_RESUME, SCENE_CHANGE, scene_thumbnail, STATE_CHANGE,
                       TriggerConfig, TriggerDecision, TriggerEngine)

INFER = 'infer'
OBSERVE = 'observe'

# Instruction statuses (the adapter maps Instruction.STATUS_* onto these).
UNDERSTOOD = 'understood'
NOT_UNDERSTOOD = 'not_understood'
STOP = 'stop'
UNPARSED = 'unparsed'
REFUSED = 'refused'

# How an instruction ended (TaskResult.RESULT_*).
RESULT_DONE = 'done'
RESULT_REFUSED = 'refused'
RESULT_CANCELLED = 'cancelled'
RESULT_PREEMPTED = 'preempted'
RESULT_FAILED = 'failed'

#: A command that stops the robot (Output.commands entry).
STOP_COMMAND = None

#: Chunks from these triggers act at once: they replace the queue and their first due action
#: is published when the result arrives, in place of the next control tick's (that tick then
#: publishes nothing), so acting on arrival never raises the command rate. Refills
#: (queue_low, keepalive, periodic) blend into the running queue.
EVENT_REASONS = (INSTRUCTION, SAFETY_RESUME, SCENE_CHANGE, STATE_CHANGE)


@dataclass(frozen=True)
class ExecutiveConfig:
    """The executive's parameters (validated on construction)."""

    control_rate: float = 10.0
    trigger: TriggerConfig = TriggerConfig()
    chunk_blend: str = 'linear'
    temporal_decay: float = 0.1
    history_rate: float = 0.0
    image_timeout: float = 0.5
    state_timeout: float = 0.5
    safety_pause_reasons: Tuple[str, ...] = DEFAULT_PAUSE_REASONS
    done_threshold: float = 0.5          # a step is "done" at this termination probability
    done_steps: int = 3                  # ... and the task ends after this many in a row
    done_max_motion: float = 0.0         # ... each commanding at most this motion (0: any)
    instruction_max_age: float = 5.0     # s, older (or further in the future) is refused
    scan_change: ScanChangeConfig = ScanChangeConfig()   # the laser's scene-change trigger

    def __post_init__(self) -> None:
        for name in ('control_rate', 'image_timeout', 'state_timeout', 'instruction_max_age'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0')
        if self.history_rate < 0:
            raise ValueError('history_rate must be >= 0')
        if not 0.0 < self.done_threshold <= 1.0:
            raise ValueError('done_threshold must be in (0, 1]')
        if self.done_steps < 1:
            raise ValueError('done_steps must be >= 1')
        if self.done_max_motion < 0.0:
            raise ValueError('done_max_motion must be >= 0')
        ActionChunkQueue(self.chunk_blend, self.temporal_decay)  # validates both

    @property
    def period(self) -> float:
        return 1.0 / self.control_rate


@dataclass(frozen=True)
class ModelInfo:
    """What the executive needs to know about the loaded model."""

    loaded: bool = False
    error: str = ''
    condition_on: str = 'original'
    state_dim: int = 0
    done_signal: bool = False    # predicts a termination probability per step


@dataclass(frozen=True)
class InstructionInput:
    """An instruction as received (the adapter's conversion of vla_msgs/Instruction)."""

    id: str
    text: str
    status: str = UNDERSTOOD
    canonical: str = ''
    language: str = ''
    stamp_ns: int = 0           # when it was given (header.stamp); 0: unknown
    reason: str = ''            # why the front-end refused it or did not understand it


@dataclass
class InferenceJob:
    """What the worker runs: everything copied, nothing shared with the executive."""

    kind: str                           # INFER or OBSERVE
    observation: Observation
    generation: int
    obs_step: int
    reset: bool
    instruction_id: str
    image_stamp_ns: int                 # the source image's stamp (0: none)
    decision: Optional[TriggerDecision] = None
    submitted: float = 0.0


@dataclass
class InferenceResult:
    """The worker's answer to a job."""

    actions: Optional[np.ndarray] = None   # (chunk, dims) for INFER jobs that succeeded
    error: Optional[BaseException] = None
    latency_ms: float = 0.0
    done: Optional[np.ndarray] = None      # (chunk,) termination probabilities, if any


@dataclass(frozen=True)
class ChunkOut:
    """A queued chunk to publish (~/action_chunk, ~/debug/image)."""

    job: InferenceJob
    actions: np.ndarray
    latency_ms: float
    first_step: int         # control-step index (since the instruction) of actions[0]
    done: Optional[np.ndarray] = None


@dataclass(frozen=True)
class TaskOut:
    """How an instruction ended (TaskResult)."""

    instruction_id: str
    result: str             # RESULT_*
    reason: str
    duration: float         # s from accepting it to its end (0 if never accepted)
    inference_count: int    # inferences run for it


@dataclass(frozen=True)
class Log:
    level: str      # 'info', 'warning' or 'error'
    text: str


@dataclass
class Output:
    """What the adapter has to do after a call: command and start the jobs first (the reaction
    path), then publish chunks, results and status, then log."""

    commands: List[Optional[np.ndarray]] = field(default_factory=list)  # STOP_COMMAND = stop
    chunks: List[ChunkOut] = field(default_factory=list)
    jobs: List[InferenceJob] = field(default_factory=list)
    logs: List[Log] = field(default_factory=list)
    results: List[TaskOut] = field(default_factory=list)
    status: bool = False            # publish ~/status now

    def merge(self, other: 'Output') -> 'Output':
        self.commands += other.commands
        self.chunks += other.chunks
        self.jobs += other.jobs
        self.logs += other.logs
        self.results += other.results
        self.status = self.status or other.status
        return self


@dataclass(frozen=True)
class Snapshot:
    """The executive's state for ~/status and /diagnostics."""

    state: str
    reason: str
    last_trigger: str
    latency_last_ms: float
    latency_p50_ms: float
    latency_p95_ms: float
    queue_depth: int
    inference_count: int
    trigger_counts: Dict[str, int]
    coalesced_counts: Dict[str, int]
    instruction_id: str
    error: str              # the current fault; while IDLE, why the last instruction was refused
    detail: str             # what the policy waits for / why it holds


def run_job(policy: Any, job: InferenceJob,
            clock: Callable[[], float] = time.monotonic) -> InferenceResult:
    """Run one job on a policy (the worker's body; also the synchronous `infer`)."""
    actions, done, error = None, None, None
    t0 = clock()
    try:
        if policy is None:
            raise RuntimeError('model unloaded')
        if job.reset:
            policy.reset()
        if job.kind == OBSERVE:
            policy.observe(job.observation)
        else:
            prediction = policy.predict(job.observation)
            actions, done = prediction.actions, prediction.done
    except Exception as exc:  # noqa: BLE001 - any model failure is reported, not raised
        error = exc
    return InferenceResult(actions, error, (clock() - t0) * 1e3, done)


def _error_text(error: BaseException) -> str:
    if isinstance(error, NonFiniteActionError):
        return 'model produced NaN/Inf actions: chunk discarded, not moving'
    if isinstance(error, ObservationError):
        return f'unusable input: {error}'
    return f'inference failed: {type(error).__name__}: {error}'


@dataclass
class _Instruction:
    id: str
    text: str
    canonical: str
    accepted: float             # when it was accepted (executive time)
    inferences: int             # the inference counter then


class Executive:
    """Instruction lifecycle, triggers, inference jobs, the chunk queue and the state."""

    def __init__(self, config: ExecutiveConfig,
                 infer: Optional[Callable[[InferenceJob], InferenceResult]] = None) -> None:
        self.config = config
        self._infer = infer
        self.model = ModelInfo()
        self.active = False
        self.queue = ActionChunkQueue(config.chunk_blend, config.temporal_decay)
        self.engine = TriggerEngine(config.trigger)
        self.scan_change = ScanChangeDetector(config.scan_change)
        self._space_change: Optional[Tuple[float, str]] = None  # (scan time, detail) to serve
        self.verdict = Verdict(sv.UNCONFIGURED, 'not configured')
        self.latency = LatencyWindow()
        # the instruction lifecycle
        self.instruction: Optional[_Instruction] = None
        self.activation_time: Optional[float] = None  # first valid clock reading when active
        self._last_now = float('-inf')
        self._seen: Dict[Tuple[str, int], None] = {}   # (id, stamp) handled (bounded, ordered)
        self._task_done = False             # the last instruction ended DONE
        self._refused = False               # the last instruction was refused (status error)
        self.note = ''                      # how the last instruction ended / was ignored
        self._done_run = 0                  # consecutive executed steps declared done
        # inputs
        self.image: Optional[np.ndarray] = None
        self._image_stamp_ns = 0
        self.image_time: Optional[float] = None
        self.image_error = ''
        self._scene: Optional[np.ndarray] = None
        self._state: Optional[np.ndarray] = None
        self._state_time: Optional[float] = None
        self._safety_blocked = False
        self._safety_reason = ''
        self._estop = False
        # execution
        self.busy = False
        self._reset_pending = True
        self.inference_error = ''
        self._commanding = False
        self._last_observe = float('-inf')
        # The robot executed queued actions from _executing[0] to _executing[1] (s): latency
        # compensation counts only time during which a plan was being executed.
        self._executing = (float('-inf'), float('-inf'))
        self._last_tick = float('-inf')      # when the control timer last ticked
        self._tick_taken = False             # an event chunk published the next tick's action
        self._logged: set = set()
        self._throttled: Dict[str, float] = {}
        self.counters = {'inferences': 0, 'history_observations': 0, 'results_discarded': 0,
                         'commands_sent': 0, 'images_received': 0, 'images_rejected': 0,
                         'done_ignored_old_frame': 0, 'scans_rejected': 0, 'scan_changes': 0}
        self._out = Output()

    # ================================================================== configuration
    def reconfigure(self, config: ExecutiveConfig) -> Output:
        """Runtime parameter changes: thresholds, trigger mode, blending, timeouts."""
        self.config = config
        self.engine.config = config.trigger
        if config.scan_change != self.scan_change.config:
            self.scan_change = ScanChangeDetector(config.scan_change)
        self.queue.blend = config.chunk_blend
        self.queue.temporal_decay = config.temporal_decay
        return self._emit()

    def set_model(self, model: ModelInfo, now: float) -> Output:
        """A model was loaded (or failed to load / was unloaded: `loaded` False)."""
        self.model = model
        if model.loaded:
            self.queue = ActionChunkQueue(self.config.chunk_blend, self.config.temporal_decay)
            self.engine = TriggerEngine(self.config.trigger)
        self._refresh(now)
        return self._emit()

    def activate(self, now: float) -> Output:
        """Start: only instructions given from now on will be executed."""
        self.active = True
        self.activation_time = None
        self._last_tick, self._tick_taken = float('-inf'), False   # a new control timer
        self._note_clock(now)
        self.queue.flush()
        self.engine.clear()
        self._forget_scans()
        self._reset_pending = True
        self._refresh(now)
        return self._emit()

    def deactivate(self, why: str, now: float) -> Output:
        """Flush the queue and stop the robot first (if the node was active); the current
        instruction ends FAILED — a reactivated policy waits for a new one."""
        was_active = self.active
        self.active = False
        self.busy = False
        if was_active:
            self._commanding = False
            self._command(STOP_COMMAND, now)
            self._log('info', f'stopped ({why}): queue flushed, stop published')
        if self.instruction is not None:
            self._end(RESULT_FAILED, f'policy {why}', now)
        self.queue.flush()
        self.engine.clear()
        self._forget_scans()
        self._refresh(now)
        return self._emit()

    def job_dropped(self, now: float) -> Output:
        """The adapter could not run the last job (worker stopped): nothing is running."""
        self.busy = False
        return self._emit()

    # ================================================================== inputs
    def on_image(self, rgb: np.ndarray, stamp_ns: int, now: float) -> Output:
        """A decoded camera frame (H, W, 3) uint8 RGB with its stamp (ns, 0 = none)."""
        t = stamp_ns * 1e-9
        if t == 0.0:
            self._log_once('zero-stamp', 'camera images have no stamp: using receive time')
            t = now
        self.counters['images_received'] += 1
        if self.image_time is not None and t < self.image_time:
            self.counters['images_rejected'] += 1
            self.image_error = (f'out-of-order camera stamp ({t:.3f} s < last '
                                f'{self.image_time:.3f} s): image rejected')
            self._refresh(now)
            return self._emit()
        self.image, self._image_stamp_ns, self.image_time = rgb, int(stamp_ns), t
        self.image_error = ''
        if self.active and self.model.loaded:
            thumb = scene_thumbnail(rgb)
            self.engine.on_scene(thumb, now)
            self._scene = thumb
            self._serve_space_change(now)
        self._tick(now)
        return self._emit()

    def reject_image(self, why: str, now: float) -> Output:
        """A camera message that could not be used (bad encoding, size, JPEG, ...)."""
        self.counters['images_rejected'] += 1
        self.image_error = why
        self._log_throttled('image', 'warning', why, now)
        self._refresh(now)
        return self._emit()

    def on_state(self, vec: np.ndarray, stamp_ns: int, now: float,
                 pose: Optional[Tuple[float, float, float]] = None) -> Output:
        """Robot state (base twist or arm joint positions) with its stamp (ns, 0 = none);
        the base's odometry pose (x, y, yaw) places the laser scans."""
        t = stamp_ns * 1e-9 or now
        if pose is not None:
            self.scan_change.on_pose(*pose)
        if not np.all(np.isfinite(vec)):
            self._log_throttled('state', 'warning', 'robot state with NaN/Inf ignored', now)
            return self._emit()
        if self._state_time is not None and t < self._state_time:
            return self._emit()  # an older sample after a newer one carries no news
        self._state, self._state_time = vec, t
        if self.active:
            self.engine.on_state(vec, now)
        return self._emit()

    def on_scan(self, geometry: Tuple[float, float, float, float], ranges: Any, stamp_ns: int,
                now: float) -> Output:
        """A laser scan: (angle_min, angle_increment, range_min, range_max), its ranges and
        stamp. Something entering space the last scan saw free is a scene change, served
        with the first camera frame taken at or after this scan (the policy acts on what it
        sees)."""
        if not (self.active and self.model.loaded) or self.config.scan_change.min_points == 0:
            return self._emit()
        try:
            scan = PlanarScan.of(*geometry, ranges, stamp=stamp_ns * 1e-9 or now)
        except ScanChangeError as exc:
            self.counters['scans_rejected'] += 1
            self._log_throttled('scan', 'warning', f'laser scan ignored: {exc}', now)
            return self._emit()
        count = self.scan_change.on_scan(scan)
        if count >= self.config.scan_change.min_points and self.config.trigger.mode == 'event':
            self.counters['scan_changes'] += 1
            self._space_change = (scan.stamp, f'laser: {count} points entered space seen free')
            if self._serve_space_change(now):
                self._tick(now)
        return self._emit()

    def _forget_scans(self) -> None:
        self._space_change = None
        self.scan_change.reset()

    def _serve_space_change(self, now: float) -> bool:
        """Hand a pending laser change to the triggers once a frame taken at or after its scan
        is here; True if it was handed over."""
        pending = self._space_change
        if pending is None or self.image_time is None or self.image_time < pending[0] - 1e-9:
            return False
        self._space_change = None
        self.engine.on_space_change(pending[1], now)
        return True

    def on_safety(self, state_name: str, reason_names: List[str], now: float) -> Output:
        """The safety gate's state (SafetyState names): a pausing state blocks commands."""
        blocked, reason = safety_blocks(state_name, reason_names,
                                        self.config.safety_pause_reasons)
        self._safety_blocked, self._safety_reason = blocked, reason
        self._estop = state_name == 'ESTOP'
        if self._estop and self.instruction is not None:
            # Resetting an e-stop must not restart motion: the instruction is cancelled and a
            # new one is needed. Other pausing states (a sensor timeout) pause and resume.
            self._end(RESULT_CANCELLED, 'e-stop engaged'
                      + (f' ({", ".join(reason_names)})' if reason_names else ''), now)
        self.engine.on_safety(blocked, now)
        self._tick(now)
        return self._emit()

    def on_instruction(self, ins: InstructionInput, now: float) -> Output:
        """A new instruction: accepted, refused or ignored; the current one ends either way
        (a stop word cancels it; anything newer preempts it)."""
        self._note_clock(now)
        key = (ins.id, ins.stamp_ns)
        if key in self._seen:
            return self._emit()             # latched or repeated delivery of a handled one
        self._seen[key] = None
        while len(self._seen) > 1000:
            del self._seen[next(iter(self._seen))]
        if ins.status == STOP:
            if self.instruction is not None:
                self._end(RESULT_CANCELLED, f'stop word ({ins.id}: {ins.text!r})', now)
            else:
                self.note = f'stop word ({ins.id}): nothing to cancel'
                self._log('info', self.note)
            self._refresh(now)
            return self._emit()
        name = ins.id or 'an instruction without an id'
        refusal = self._refusal(ins, now)
        if refusal is None:
            text = ins.canonical if self.model.condition_on == 'canonical' else ins.text
            if not text.strip():
                refusal = (f'no {self.model.condition_on} text' if self.model.condition_on ==
                           'canonical' else 'empty text')
        if refusal is None and not self.active:
            refusal = 'the policy is not active'
        if refusal is None and self._estop:
            refusal = 'the e-stop is engaged: reset it first, then give the instruction'
        if self.instruction is not None:
            self._end(RESULT_PREEMPTED, f'replaced by instruction {name}', now)
        if refusal is not None:
            self._refused = True
            self.note = f'instruction {name} refused: {refusal}'
            self._log('warning', self.note)
            self._out.results.append(TaskOut(ins.id, RESULT_REFUSED, refusal, 0.0, 0))
            self._refresh(now)
            return self._emit()
        self.instruction = _Instruction(ins.id, ins.text, ins.canonical, now,
                                        self.counters['inferences'])
        self._task_done, self._refused, self.note, self._done_run = False, False, '', 0
        self.inference_error = ''
        self.queue.flush()
        self._reset_pending = True
        self.engine.on_instruction(now, ins.id)
        self._space_change = None
        self._log('info', f'instruction {ins.id}: {ins.text!r}'
                  + (f' ({ins.canonical!r})' if ins.canonical else ''))
        self._tick(now)
        return self._emit()

    def _refusal(self, ins: InstructionInput, now: float) -> Optional[str]:
        """Why `ins` must not be executed (None: it may)."""
        if ins.status == NOT_UNDERSTOOD:
            return 'not understood' + (f': {ins.reason}' if ins.reason else '')
        if ins.status == REFUSED:
            return ins.reason or 'refused by the instruction front-end'
        if ins.status not in (UNDERSTOOD, UNPARSED):
            return ins.reason or f'unknown instruction status {ins.status!r}'
        if not ins.stamp_ns:
            return 'it has no stamp: a fresh instruction cannot be told from a stale one'
        stamp, max_age = ins.stamp_ns * 1e-9, self.config.instruction_max_age
        if self.activation_time is None or stamp < self.activation_time:
            return ('given before this policy was activated (a restart never resumes an old '
                    'instruction)')
        if now - stamp > max_age:
            return f'it is {now - stamp:.1f} s old (instruction_max_age {max_age:g} s)'
        if stamp - now > max_age:
            return (f'it is stamped {stamp - now:.1f} s in the future: the instruction node '
                    'and the policy do not share a clock')
        return None

    def _end(self, result: str, reason: str, now: float) -> None:
        """The current instruction ends: result out, queue flushed, the robot stopped."""
        ins = self.instruction
        assert ins is not None
        self.instruction = None
        self._task_done, self._refused = result == RESULT_DONE, False
        self.note = f'instruction {ins.id} {result}' + (f': {reason}' if reason else '')
        self._log('info', self.note)
        self._out.results.append(TaskOut(ins.id, result, reason, max(0.0, now - ins.accepted),
                                         self.counters['inferences'] - ins.inferences))
        self.queue.flush()
        self.engine.clear()
        self._forget_scans()
        self._reset_pending = True
        self.inference_error = ''
        self._done_run = 0
        if self._commanding or result == RESULT_DONE:
            self._commanding = False
            self._command(STOP_COMMAND, now)

    def _note_clock(self, now: float) -> None:
        """Anchor the activation time at the first valid clock reading (a simulated clock
        reads 0 until /clock arrives) and re-anchor it if the clock jumps back (a restarted
        simulator): instructions stamped before that are stale."""
        if now < self._last_now - 1.0:
            self.activation_time = None
            self._log('warning', f'the clock jumped back {self._last_now - now:.1f} s: '
                                 'instructions given before now are ignored')
        self._last_now = now
        if self.active and self.activation_time is None and now > 0.0:
            self.activation_time = now

    # ================================================================== time
    def tick(self, now: float) -> Output:
        """Re-evaluate the state (e.g. for input ages) and start an inference if due."""
        self._tick(now)
        return self._emit()

    def control_tick(self, now: float) -> Output:
        """One control period: re-evaluate, maybe start an inference, execute one action."""
        taken, self._tick_taken = self._tick_taken, False
        self._last_tick = now
        if self._tick(now).may_command and not taken:
            self._execute(now)
        return self._emit()

    def on_result(self, job: InferenceJob, result: InferenceResult, now: float) -> Output:
        """The answer to a job emitted earlier (from the worker, via the adapter).

        An event chunk acts at once: its first due action is published now, in place of the
        next control tick's action (that tick publishes nothing and the timer keeps its
        phase), so the command rate stays the timer's: the robot holds this action until
        the tick after, 1-2 periods from now. One arrival takes at most one tick: a chunk
        arriving while the next tick is already taken waits for the timer, except an
        instruction's, which always acts at once.
        """
        act = self._handle_result(job, result, now)
        instruction = job.decision is not None and job.decision.reason == INSTRUCTION
        if act and self._refresh(now).may_command and (instruction or not self._tick_taken):
            self._tick_taken = True
            period = self.config.period
            after_next = self._last_tick + 2 * period
            self._execute(now, after_next if now < after_next <= now + 2 * period
                          else now + period)
        self._tick(now)
        return self._emit()

    # ================================================================== state
    def heartbeat(self) -> bool:
        """Whether the heartbeat is due: active and healthy (IDLE, RUNNING or PAUSED)."""
        return self.active and self.verdict.healthy

    def snapshot(self) -> Snapshot:
        v = self.verdict
        stats = self.engine.stats
        last = self.engine.last_decision
        return Snapshot(
            state=v.state, reason=v.reason, last_trigger=last.reason if last else '',
            latency_last_ms=float(self.latency.last),
            latency_p50_ms=self.latency.percentile(50),
            latency_p95_ms=self.latency.percentile(95), queue_depth=len(self.queue),
            inference_count=int(self.counters['inferences']),
            trigger_counts=dict(stats.fired), coalesced_counts=dict(stats.coalesced),
            instruction_id=self.instruction.id if self.instruction else '',
            error=v.reason if v.state in (sv.ERROR, sv.PAUSED, sv.UNCONFIGURED)
            else self.note if v.state == sv.IDLE and self._refused else '',
            detail=self._detail())

    def _detail(self) -> str:
        """What the policy waits for, and how the last instruction ended or why it was
        ignored (e.g. 'waiting for a new instruction; instruction ins-1 refused: ...')."""
        v = self.verdict
        if v.state == sv.RUNNING:
            return ''
        if self.note and (v.state in (sv.IDLE, sv.DONE) or self._refused):
            return f'{v.reason}; {self.note}'
        return v.reason

    def diagnostic_values(self, now: float) -> Dict[str, Any]:
        """Counters and measures for /diagnostics (the adapter adds model and process data)."""
        snap = self.snapshot()
        values: Dict[str, Any] = {
            'state': snap.state,
            'trigger_mode': self.config.trigger.mode,
            'inferences': self.counters['inferences'],
            'history_observations': self.counters['history_observations'],
            'latency_p50_ms': f'{snap.latency_p50_ms:.1f}',
            'latency_p95_ms': f'{snap.latency_p95_ms:.1f}',
            'queue_depth': snap.queue_depth,
            'commands_sent': self.counters['commands_sent'],
            'results_discarded': self.counters['results_discarded'],
            'images_received': self.counters['images_received'],
            'images_rejected': self.counters['images_rejected'],
            'inference_failures': self.engine.stats.failures,
            'image_age_s': '-' if self.image_time is None else f'{now - self.image_time:.2f}',
            'scene_distance': f'{self.engine.last_scene_distance:.3f}',
            'state_distance': f'{self.engine.last_state_distance:.3f}',
        }
        for reason, count in snap.trigger_counts.items():
            values[f'triggers_{reason}'] = count
            values[f'coalesced_{reason}'] = snap.coalesced_counts[reason]
        return values

    # ================================================================== internals
    def _emit(self) -> Output:
        out, self._out = self._out, Output()
        return out

    def _command(self, action: Optional[np.ndarray], now: Optional[float] = None,
                 until: Optional[float] = None) -> None:
        """Publish an action (held until `until`: the next command, one period by default)
        or a stop (STOP_COMMAND)."""
        if action is not None:
            self.counters['commands_sent'] += 1
            assert now is not None
            start, held = self._executing
            # a late timer tick (jitter) does not interrupt the plan being executed
            self._executing = (now if now > held + 0.5 * self.config.period else start,
                               now + self.config.period if until is None else until)
        elif now is not None:
            self._executing = (self._executing[0], min(self._executing[1], now))
        self._out.commands.append(action)

    def _execute(self, now: float, until: Optional[float] = None) -> None:
        """Publish the queue's next action (nothing when it is empty: the step waits).

        The policy ends its task when `done_steps` executed steps in a row carry a termination
        probability of at least `done_threshold` -- and, with `done_max_motion` set, command
        at most that much motion (the norm of the action's first three values: the arm's tool
        point translation per step, m; the base's linear/angular velocity), as every done
        label of the demonstrations is a still step: instead of that step's action the robot
        gets a stop, and the instruction is consumed.
        """
        action = self.queue.pop()
        if action is None:
            return
        done = self.queue.last_done
        cfg = self.config
        still = (cfg.done_max_motion <= 0.0
                 or float(np.linalg.norm(action[:3])) <= cfg.done_max_motion)
        self._done_run = self._done_run + 1 \
            if done is not None and done >= cfg.done_threshold and still else 0
        if self._done_run >= cfg.done_steps:
            self._end(RESULT_DONE, f'the policy declared done ({cfg.done_steps} steps at '
                                   f'p >= {cfg.done_threshold:g})', now)
            self._refresh(now)
            return
        self._commanding = True
        self._command(action, now, until)

    def _late_steps(self, job: InferenceJob, now: float) -> int:
        """Actions of an event chunk whose time has passed: the time since the source image
        during which the robot was executing a plan, in control periods. A robot that held
        still meanwhile (a flushed queue, a pause) lost nothing, so a slow model's chunk is
        never all stale just because it was slow."""
        image_time = job.image_stamp_ns * 1e-9 or job.submitted
        start, until = self._executing
        executed = min(now, until) - max(image_time, start)
        return int(executed / self.config.period + 1e-6) if executed > 0 else 0

    def _log(self, level: str, text: str) -> None:
        self._out.logs.append(Log(level, text))

    def _log_once(self, key: str, text: str) -> None:
        if key not in self._logged:
            self._logged.add(key)
            self._log('warning', text)

    def _log_throttled(self, key: str, level: str, text: str, now: float,
                       period: float = 5.0) -> None:
        last = self._throttled.get(key)
        if last is None or now - last >= period or now < last:
            self._throttled[key] = now
            self._log(level, text)

    def _inputs(self, now: float) -> Inputs:
        cfg = self.config
        return Inputs(
            active=self.active,
            model_loaded=self.model.loaded,
            model_error=self.model.error,
            instruction_id=self.instruction.id if self.instruction else '',
            task_done=self._task_done,
            image_age=None if self.image_time is None else now - self.image_time,
            image_error=self.image_error,
            image_timeout=cfg.image_timeout,
            state_required=bool(self.model.loaded and self.model.state_dim),
            state_age=None if self._state_time is None else now - self._state_time,
            state_timeout=cfg.state_timeout,
            safety_blocked=self._safety_blocked,
            safety_reason=self._safety_reason,
            inference_error=self.inference_error,
        )

    def _refresh(self, now: float) -> Verdict:
        """Re-evaluate the state; on leaving RUNNING flush the queue and stop the robot."""
        self._note_clock(now)
        verdict = evaluate(self._inputs(now))
        previous, self.verdict = self.verdict, verdict
        if previous.state == sv.RUNNING and verdict.state != sv.RUNNING:
            self.queue.flush()
            self._reset_pending = True
            if self._commanding:
                self._commanding = False
                self._command(STOP_COMMAND, now)
        if (previous.state, previous.key) != (verdict.state, verdict.key):
            text = (f'state {previous.state} -> {verdict.state}'
                    if previous.state != verdict.state else f'state {verdict.state}') + (
                f': {verdict.reason}' if verdict.reason else '')
            self._log('error' if verdict.state == sv.ERROR else 'info', text)
            self._out.status = True
        return verdict

    def _tick(self, now: float) -> Verdict:
        """Re-evaluate, then start an inference (or a history observation) if due."""
        verdict = self._refresh(now)
        if not verdict.may_infer or self.busy or not self.model.loaded or self.image is None:
            return verdict
        decision = self.engine.poll(now, True, self.busy, len(self.queue), self._scene,
                                    self._state)
        kind = INFER
        if decision is None:
            rate = self.config.history_rate
            if rate <= 0 or now - self._last_observe < 1.0 / rate:
                return verdict
            kind = OBSERVE
        job = self._make_job(kind, decision, now)
        if self._infer is None:
            self._out.jobs.append(job)
        else:
            self._handle_result(job, self._infer(job), now)
            verdict = self._refresh(now)
        return verdict

    def _make_job(self, kind: str, decision: Optional[TriggerDecision],
                  now: float) -> InferenceJob:
        ins = self.instruction
        assert ins is not None and self.image is not None
        obs = Observation(self.image, ins.text, ins.canonical,
                          None if self._state is None else self._state.copy(), now)
        job = InferenceJob(kind, obs, self.queue.generation, self.queue.step,
                           self._reset_pending, ins.id, self._image_stamp_ns, decision, now)
        self._reset_pending = False
        self.busy = True
        self._last_observe = now
        return job

    def _handle_result(self, job: InferenceJob, result: InferenceResult, now: float) -> bool:
        """Queue a result; True when it is an event chunk that should act at once."""
        self.busy = False
        error = result.error
        if job.kind == OBSERVE:
            if error is None:
                self.counters['history_observations'] += 1
            else:
                self._log_once(f'observe-{type(error).__name__}',
                               f'history observation failed: {error}')
            return False
        self.counters['inferences'] += 1
        self.latency.add(result.latency_ms)
        self._out.status = True
        current = job.generation == self.queue.generation
        if error is not None:
            self.engine.on_failure(now)
            if current:
                self.inference_error = _error_text(error)
                self.queue.flush()
                self._reset_pending = True
                self._log_throttled('inference', 'error', self.inference_error, now)
            return False
        if not current:
            self.counters['results_discarded'] += 1
            return False
        self.inference_error = ''
        assert result.actions is not None
        event = job.decision is not None and job.decision.reason in EVENT_REASONS
        done = result.done
        if done is not None and self.instruction is not None and \
                (job.image_stamp_ns * 1e-9 or job.submitted) < self.instruction.accepted:
            # A frame captured before the instruction may start the motion but cannot end
            # the task (e.g. the last task's goal still in view when a new one is given).
            done = None
            self.counters['done_ignored_old_frame'] += 1
        if event:
            skip = self._late_steps(job, now)
            first_step = self.queue.step - skip
            pushed = self.queue.replace(result.actions, skip, job.generation, done)
        else:
            first_step = job.obs_step
            pushed = self.queue.push(result.actions, job.obs_step, job.generation, done)
        if not pushed.accepted:
            self.counters['results_discarded'] += 1
            self._log_once(f'push-{pushed.reason[:20]}', f'chunk not queued: {pushed.reason}')
            return False
        self._out.chunks.append(ChunkOut(job, result.actions, result.latency_ms,
                                         max(0, first_step), result.done))
        return event
