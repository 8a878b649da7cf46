"""policy_node: the event-triggered VLA policy as a ROS 2 lifecycle node.

Camera + robot state + instruction in; `cmd_vel_in` (Twist, base) or `arm_cmd_in`
(ArmCommand, arm) out towards the safety gate, one action per control tick from a queue of
predicted chunks. Inference runs in a worker thread when a trigger fires (execution/), so
instruction, safety and parameter callbacks never wait for the model.

Lifecycle: configure loads the model (parameter `model_path`, required), activate starts the
control loop, deactivate flushes the queue and publishes a stop first, cleanup frees the
model. With `autostart` (default) the node configures and activates itself; a failed
configure leaves it unconfigured, reporting the error on `~/status` and `/diagnostics`, and
it retries when `model_path` is set again.
"""

from __future__ import annotations

import gc
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Header, String
from vla_common import topics
from vla_common.image import compressed_to_rgb, fill_image, image_to_rgb, ImageError
from vla_common.node_main import run_node
from vla_common.params import declare
from vla_common.qos import COMMAND_QOS, LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from vla_msgs.msg import ActionChunk, ArmCommand, Instruction, PolicyStatus, SafetyState

from .execution import (ActionChunkQueue, BLEND_MODES, DEFAULT_PAUSE_REASONS, evaluate, Inputs,
                        LatencyWindow, safety_blocks, scene_thumbnail,
                        TriggerConfig, TriggerDecision, TriggerEngine, Verdict)
from .execution import supervisor as sv
from .policies.errors import NonFiniteActionError, ObservationError, PolicyError
from .policies.observation import MIN_IMAGE_SIDE, Observation
from .preflight import Limits, PreflightReport

NODE_NAME = topics.POLICY_NODE
INSTRUCTION_TEXT = '~/instruction_text'
SAFETY_STATE_TOPIC = f'{topics.SAFETY_NODE}/state'
SAFETY_STATE_NAMES = {SafetyState.STATE_OK: 'OK', SafetyState.STATE_LIMITED: 'LIMITED',
                      SafetyState.STATE_STOPPED: 'STOPPED', SafetyState.STATE_ESTOP: 'ESTOP'}
STATE_CODES = {sv.UNCONFIGURED: PolicyStatus.STATE_UNCONFIGURED, sv.IDLE: PolicyStatus.STATE_IDLE,
               sv.RUNNING: PolicyStatus.STATE_RUNNING, sv.PAUSED: PolicyStatus.STATE_PAUSED,
               sv.ERROR: PolicyStatus.STATE_ERROR}
BACKENDS = ('robovlms', 'onnx', 'tensorrt')

#: Parameters that take effect at the next configure (or immediately retry a failed one).
RELOAD_PARAMS = ('model_path', 'backend', 'condition_on', 'preflight_memory_reserve_mb',
                 'preflight_max_gpu_temp_c', 'preflight_power_mode',
                 'preflight_require_locked_clocks')


@dataclass(frozen=True)
class NodeParams:
    """The node's parameters, read once per configure (runtime changes: see on_set)."""

    model_path: str = ''
    backend: str = 'robovlms'
    action_space: str = 'base'
    control_rate: float = 10.0
    trigger_mode: str = 'event'
    periodic_rate: float = 10.0
    queue_threshold: int = 3
    scene_threshold: float = 0.08
    state_threshold: float = 0.2
    keepalive_period: float = 2.0
    min_inference_interval: float = 0.0
    error_backoff: float = 1.0
    chunk_blend: str = 'linear'
    temporal_decay: float = 0.1
    history_rate: float = 0.0
    image_timeout: float = 0.5
    state_timeout: float = 0.5
    condition_on: str = 'auto'
    heartbeat_rate: float = 10.0
    status_rate: float = 2.0
    num_threads: int = 0
    arm_frame_id: str = 'arm_base_link'
    safety_pause_reasons: Tuple[str, ...] = DEFAULT_PAUSE_REASONS
    preflight_memory_reserve_mb: float = 512.0
    preflight_max_gpu_temp_c: float = 85.0
    preflight_power_mode: str = ''
    preflight_require_locked_clocks: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f'backend must be one of {BACKENDS}, got {self.backend!r}')
        if self.action_space not in ('base', 'arm'):
            raise ValueError(f"action_space must be 'base' or 'arm', got {self.action_space!r}")
        if self.chunk_blend not in BLEND_MODES:
            raise ValueError(f'chunk_blend must be one of {BLEND_MODES}')
        if self.condition_on not in ('auto', 'original', 'canonical'):
            raise ValueError("condition_on must be 'auto', 'original' or 'canonical'")
        for name in ('control_rate', 'heartbeat_rate', 'status_rate', 'image_timeout',
                     'state_timeout'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0')
        self.trigger_config()  # validates the trigger fields

    def preflight_limits(self) -> Limits:
        return Limits(self.preflight_memory_reserve_mb, self.preflight_max_gpu_temp_c,
                      self.preflight_power_mode, self.preflight_require_locked_clocks)

    def trigger_config(self) -> TriggerConfig:
        return TriggerConfig(self.trigger_mode, self.periodic_rate, self.queue_threshold,
                             self.scene_threshold, self.state_threshold, self.keepalive_period,
                             self.min_inference_interval, self.error_backoff)


@dataclass
class CurrentInstruction:
    id: str
    text: str
    canonical: str
    language: str = ''


@dataclass
class InferenceJob:
    """What the worker runs: everything copied, nothing shared with the callbacks."""

    kind: str                           # 'infer' or 'observe'
    observation: Observation
    generation: int
    obs_step: int
    reset: bool
    instruction_id: str
    image_stamp: Any
    decision: Optional[TriggerDecision] = None
    submitted: float = field(default_factory=time.monotonic)


def _stamp_seconds(stamp: Any) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def _rss_mb() -> float:
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 1e6
    except (OSError, ValueError, IndexError):  # not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


class PolicyNode(LifecycleNode):
    """The event-triggered policy node (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self._lock = threading.RLock()
        self._declare_parameters()
        self.policy: Any = None
        self._model_error = ''
        try:
            self.params = self._read_params()
        except (ValueError, TypeError) as exc:
            self.params = NodeParams()
            self._model_error = f'invalid parameters: {exc}'
        self._model_id = ''
        self._active = False
        self._configured = False
        # Inputs
        self._instruction: Optional[CurrentInstruction] = None
        self._instruction_error = ''
        self._last_instruction_key: Optional[Tuple[str, str, str]] = None
        self._text_counter = 0
        self._image: Optional[np.ndarray] = None
        self._image_stamp: Any = None
        self._image_time: Optional[float] = None
        self._image_error = ''
        self._images_rejected = 0
        self._images_received = 0
        self._scene: Optional[np.ndarray] = None
        self._state: Optional[np.ndarray] = None
        self._state_time: Optional[float] = None
        self._safety_blocked = False
        self._safety_reason = ''
        # Execution
        self._queue = ActionChunkQueue()
        self._engine = TriggerEngine(TriggerConfig())
        self._busy = False
        self._reset_pending = True
        self._inference_error = ''
        self._commanding = False
        self._verdict = Verdict(sv.UNCONFIGURED, 'not configured')
        self._latency = LatencyWindow()
        self._inferences = 0
        self._observations = 0
        self._results_discarded = 0
        self._commands_sent = 0
        self._last_observe = 0.0
        self._last_chunk: Optional[np.ndarray] = None
        self._worker: Optional[threading.Thread] = None
        self._jobs: 'queue.Queue[Optional[InferenceJob]]' = queue.Queue(maxsize=1)
        self._logged: set = set()
        self._preflight: Optional[PreflightReport] = None
        self._budget: Any = None
        # Entities that live for the whole node: status and diagnostics report errors even
        # while unconfigured.
        self._status_pub = self.create_publisher(PolicyStatus, topics.POLICY_STATUS,
                                                 RELIABLE_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, 10)
        self._status_timer = self.create_timer(1.0 / self.params.status_rate,
                                               self._on_status_timer)
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics)
        self._io_subs: List[Any] = []
        self._io_pubs: List[Any] = []
        self._run_timers: List[Any] = []
        self._cmd_pub: Any = None
        self._chunk_pub: Any = None
        self._heartbeat_pub: Any = None
        self._debug_pub: Any = None
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._autostart_timer = None
        if self.get_parameter('autostart').value:
            self._autostart_timer = self.create_timer(0.01, self._autostart)
        self._publish_status()

    # ================================================================== parameters
    def _declare_parameters(self) -> None:
        d = NodeParams()
        declare(self, 'autostart', True, 'configure and activate without a lifecycle manager',
                read_only=True)
        declare(self, 'model_path', d.model_path, 'policy checkpoint directory (required); '
                'applied at the next configure')
        declare(self, 'backend', d.backend, 'policy backend: robovlms (torch), onnx '
                '(<model_path>/onnx export) or tensorrt (<model_path>/trt engines built on '
                'this device by build_trt_engine)')
        declare(self, 'action_space', d.action_space, "'base' (cmd_vel_in Twist) or 'arm' "
                '(arm_cmd_in ArmCommand); must match the checkpoint', read_only=True)
        declare(self, 'control_rate', d.control_rate, 'Hz, one queued action per tick',
                0.5, 100.0, read_only=True)
        declare(self, 'trigger_mode', d.trigger_mode, "'event' (the product) or 'periodic' "
                '(baseline for comparison)')
        declare(self, 'periodic_rate', d.periodic_rate, 'Hz, inference rate in periodic mode',
                0.1, 100.0)
        declare(self, 'queue_threshold', d.queue_threshold, 'refill when this many actions or '
                'fewer are queued', 0, 1000)
        declare(self, 'scene_threshold', d.scene_threshold, 'scene-change trigger: mean abs '
                'grey difference (0..1) to the last inference image; 0 disables', 0.0, 1.0)
        declare(self, 'state_threshold', d.state_threshold, 'state-change trigger: max abs '
                'state difference (m/s, rad/s or rad) to the last inference; 0 disables',
                0.0, 100.0)
        declare(self, 'keepalive_period', d.keepalive_period, 's without inference before a '
                'keep-alive inference; 0 disables', 0.0, 3600.0)
        declare(self, 'min_inference_interval', d.min_inference_interval, 's, lower bound '
                'between inferences (events wait, they are not dropped)', 0.0, 60.0)
        declare(self, 'error_backoff', d.error_backoff, 's to wait after a failed inference',
                0.0, 60.0)
        declare(self, 'chunk_blend', d.chunk_blend, 'overlap blending: none, linear '
                '(cross-fade) or temporal (ACT ensembling)')
        declare(self, 'temporal_decay', d.temporal_decay, 'temporal ensembling decay', 0.0,
                10.0)
        declare(self, 'history_rate', d.history_rate, 'Hz at which camera frames enter the '
                "policy's history window between inferences (0: only inference frames)",
                0.0, 100.0)
        declare(self, 'image_timeout', d.image_timeout, 's, older camera images pause the '
                'policy (no commands)', 0.01, 60.0)
        declare(self, 'state_timeout', d.state_timeout, 's, older robot state pauses a policy '
                'that needs it', 0.01, 60.0)
        declare(self, 'condition_on', d.condition_on, "text the policy sees: 'auto' (as "
                "trained), 'original' or 'canonical'")
        declare(self, 'heartbeat_rate', d.heartbeat_rate, 'Hz, heartbeat while healthy and '
                'active', 0.1, 100.0, read_only=True)
        declare(self, 'status_rate', d.status_rate, 'Hz, periodic ~/status', 0.1, 100.0,
                read_only=True)
        declare(self, 'num_threads', d.num_threads, 'inference threads (0: library default)',
                0, 64, read_only=True)
        declare(self, 'arm_frame_id', d.arm_frame_id, 'frame of ArmCommand end-effector '
                'deltas')
        declare(self, 'safety_pause_reasons', list(d.safety_pause_reasons), 'SafetyState '
                'reason names that pause the policy while the gate is STOPPED')
        declare(self, 'preflight_memory_reserve_mb', d.preflight_memory_reserve_mb, 'MiB of '
                'available memory that must remain after the model budget at configure',
                0.0, 65536.0)
        declare(self, 'preflight_max_gpu_temp_c', d.preflight_max_gpu_temp_c, 'deg C, a '
                'hotter GPU thermal zone refuses the model at configure (Jetson)', 30.0, 110.0)
        declare(self, 'preflight_power_mode', d.preflight_power_mode, 'nvpmodel mode name '
                "required at configure, e.g. MAXN or 25W ('' accepts any; Jetson)")
        declare(self, 'preflight_require_locked_clocks', d.preflight_require_locked_clocks,
                'refuse the model unless jetson_clocks locked the clocks (else a warning)')

    def _read_params(self, overrides: Optional[dict] = None) -> NodeParams:
        values = {}
        for f in NodeParams.__dataclass_fields__:
            values[f] = self.get_parameter(f).value
        values.update(overrides or {})
        values['safety_pause_reasons'] = tuple(values['safety_pause_reasons'] or ())
        return NodeParams(**values)

    def _on_set_parameters(self, params: List[Any]) -> SetParametersResult:
        changes = {p.name: p.value for p in params}
        known = {k: v for k, v in changes.items() if k in NodeParams.__dataclass_fields__}
        if not known:
            return SetParametersResult(successful=True)
        try:
            new = self._read_params(known)
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        with self._lock:
            self.params = new
            self._engine.config = new.trigger_config()
            self._queue.blend = new.chunk_blend
            self._queue.temporal_decay = new.temporal_decay
        if any(k in changes for k in RELOAD_PARAMS) and not self._configured \
                and self.get_parameter('autostart').value:
            # A failed configure is retried with the new model path.
            if self._autostart_timer is None:
                self._autostart_timer = self.create_timer(0.05, self._autostart)
            else:
                self._autostart_timer.reset()
        return SetParametersResult(successful=True)

    # ================================================================== lifecycle
    def _autostart(self) -> None:
        if self._autostart_timer is not None:
            self._autostart_timer.cancel()  # one shot; reset() when a retry is due
        if self._configured:
            return
        self.trigger_configure()
        if self._configured:
            self.trigger_activate()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            params = self._read_params()
        except (ValueError, TypeError) as exc:
            return self._fail_configure(f'invalid parameters: {exc}')
        with self._lock:
            self.params = params
        if not params.model_path:
            return self._fail_configure('model_path is empty: set it to a policy checkpoint '
                                        'directory')
        report = self._run_preflight(params)
        if not report.ok:
            return self._fail_configure('preflight refused the model: '
                                        + '; '.join(report.errors()))
        if report.level:
            self.get_logger().warning(report.summary())
        self.get_logger().info(f'loading policy {params.model_path} ({params.backend})')
        t0 = time.monotonic()
        try:
            from .policies import load_policy

            policy = load_policy(params.model_path, params.backend, params.num_threads)
        except (PolicyError, OSError, ValueError, RuntimeError, ImportError) as exc:
            return self._fail_configure(f'cannot load model {params.model_path!r}: '
                                        f'{type(exc).__name__}: {exc}')
        if policy.action_space.name != params.action_space:
            return self._fail_configure(
                f'the checkpoint is for the {policy.action_space.name!r} action space, the node '
                f'is configured for {params.action_space!r}')
        if policy.config.num_cameras != 1:
            return self._fail_configure(f'the checkpoint expects {policy.config.num_cameras} '
                                        'cameras; this node subscribes one')
        if params.condition_on != 'auto' and params.condition_on != policy.config.condition_on:
            self.get_logger().warning(f'condition_on overridden: the model was trained on the '
                                      f'{policy.config.condition_on} text, it now sees the '
                                      f'{params.condition_on} text')
            policy.config.condition_on = params.condition_on
        expected_rate = 1.0 / policy.config.control_dt
        if abs(expected_rate - params.control_rate) > 1e-6 * expected_rate:
            self.get_logger().warning(f'control_rate {params.control_rate} Hz differs from the '
                                      f"model's action rate {expected_rate:g} Hz")
        with self._lock:
            self.policy = policy
            self._model_error = ''
            self._model_id = policy.config.name or os.path.basename(
                os.path.normpath(params.model_path))
            self._queue = ActionChunkQueue(params.chunk_blend, params.temporal_decay)
            self._engine = TriggerEngine(params.trigger_config())
            self._configured = True
        self._create_io(params)
        self.get_logger().info(f'policy loaded in {time.monotonic() - t0:.1f} s: '
                               f'{policy.describe()}')
        self._refresh()
        return TransitionCallbackReturn.SUCCESS

    def _run_preflight(self, params: NodeParams) -> PreflightReport:
        """Device, power, clocks, temperature, engine match, memory vs the model budget."""
        from .policies import budgets
        from .policies.base import read_config
        from .preflight import mem_available_mb, read_device_info, run_preflight

        device = read_device_info()
        limits = params.preflight_limits()
        available = mem_available_mb()
        verdict, budget, engine_problem = None, None, None
        try:
            cfg = read_config(params.model_path)
            precision = ''
            if params.backend == 'tensorrt':
                from .policies import tensorrt_backend as trt

                try:
                    meta = trt.read_engine_meta(os.path.join(params.model_path, trt.TRT_DIR))
                    precision = meta.precision
                    engine_problem = trt.engine_mismatch(meta, device.model, device.soc,
                                                         trt.installed_tensorrt_version())
                except PolicyError as exc:
                    engine_problem = str(exc)
            budget = budgets.checkpoint_budget(params.model_path, cfg, params.backend,
                                               precision)
            if available is not None:
                verdict = budgets.check_memory(budget, 'orin' if device.is_jetson else 'cpu',
                                               available, _rss_mb() / 1.048576,
                                               limits.memory_reserve_mb)
        except PolicyError:
            pass  # an unreadable checkpoint is reported by load_policy with its reason
        report = run_preflight(limits, verdict, available, engine_problem,
                               params.backend == 'tensorrt', device=device)
        with self._lock:
            self._preflight = report
            self._budget = budget
        self.get_logger().info(report.summary())
        return report

    def _fail_configure(self, message: str) -> TransitionCallbackReturn:
        self.get_logger().error(message)
        with self._lock:
            self._model_error = message
            self.policy = None
            self._configured = False
        self._refresh()
        return TransitionCallbackReturn.FAILURE

    def _create_io(self, p: NodeParams) -> None:
        if p.action_space == 'base':
            self._cmd_pub = self.create_publisher(Twist, topics.CMD_VEL_IN, COMMAND_QOS)
            self._io_subs.append(self.create_subscription(Odometry, topics.ODOM,
                                                          self._on_odom, SENSOR_QOS))
        else:
            self._cmd_pub = self.create_publisher(ArmCommand, topics.ARM_CMD_IN, COMMAND_QOS)
            self._io_subs.append(self.create_subscription(JointState, topics.JOINT_STATES,
                                                          self._on_joint_states, SENSOR_QOS))
        self._chunk_pub = self.create_publisher(ActionChunk, topics.ACTION_CHUNK, RELIABLE_QOS)
        self._heartbeat_pub = self.create_publisher(Header, topics.HEARTBEAT, COMMAND_QOS)
        self._debug_pub = self.create_publisher(Image, topics.DEBUG_IMAGE, SENSOR_QOS)
        self._io_pubs = [self._cmd_pub, self._chunk_pub, self._heartbeat_pub, self._debug_pub]
        self._io_subs += [
            self.create_subscription(Image, topics.CAMERA_IMAGE, self._on_image, SENSOR_QOS),
            self.create_subscription(CompressedImage, topics.CAMERA_COMPRESSED,
                                     self._on_compressed, SENSOR_QOS),
            self.create_subscription(Instruction, topics.INSTRUCTION, self._on_instruction,
                                     LATCHED_QOS),
            self.create_subscription(String, INSTRUCTION_TEXT, self._on_instruction_text,
                                     RELIABLE_QOS),
            self.create_subscription(SafetyState, SAFETY_STATE_TOPIC, self._on_safety,
                                     LATCHED_QOS),
        ]

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        p = self.params
        with self._lock:
            self._active = True
            self._queue.flush()
            self._engine.clear()
            self._reset_pending = True
            if self._instruction is not None:
                self._engine.on_instruction(self._now(), 'activated')
        self._jobs = queue.Queue(maxsize=1)
        self._worker = threading.Thread(target=self._worker_loop, args=(self._jobs,),
                                        name='policy-inference', daemon=True)
        self._worker.start()
        self._run_timers = [self.create_timer(1.0 / p.control_rate, self._on_control_tick),
                            self.create_timer(1.0 / p.heartbeat_rate, self._on_heartbeat)]
        self.get_logger().info(f'active: {p.trigger_mode} triggers, control {p.control_rate:g} '
                               f'Hz, {p.action_space} commands')
        self._refresh()
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_running('deactivated')
        self._refresh()
        return TransitionCallbackReturn.SUCCESS

    def _stop_running(self, why: str) -> None:
        with self._lock:
            was_active = self._active
            self._active = False
            self._queue.flush()
            self._engine.clear()
        if was_active:
            self._publish_stop()  # always: deactivation stops the robot first
            self.get_logger().info(f'stopped ({why}): queue flushed, stop published')
        for t in self._run_timers:
            self.destroy_timer(t)
        self._run_timers = []
        self._stop_worker()

    def _stop_worker(self) -> None:
        worker, jobs = self._worker, self._jobs
        self._worker = None
        if worker is None:
            return
        try:
            while True:
                jobs.get_nowait()
        except queue.Empty:
            pass
        jobs.put(None)
        worker.join(timeout=10.0)
        if worker.is_alive():
            self.get_logger().warning('inference worker still busy; it will exit after the '
                                      'current inference (its result is discarded)')
        with self._lock:
            self._busy = False

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self._refresh()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._active:
            self._stop_running('shutdown')
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_running('lifecycle error')
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        self._stop_worker()
        for s in self._io_subs:
            self.destroy_subscription(s)
        for p in self._io_pubs:
            self.destroy_publisher(p)
        self._io_subs, self._io_pubs = [], []
        self._cmd_pub = self._chunk_pub = self._heartbeat_pub = self._debug_pub = None
        with self._lock:
            self.policy = None
            self._configured = False
        gc.collect()

    def destroy_node(self) -> None:
        """Stop the worker and publish a stop before the node goes away."""
        if self._active:
            try:
                self._stop_running('node destroyed')
            except Exception:  # noqa: BLE001 - the context may already be shut down
                pass
        self._stop_worker()
        super().destroy_node()

    # ================================================================== helpers
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _log_once(self, key: str, message: str) -> None:
        if key not in self._logged:
            self._logged.add(key)
            self.get_logger().warning(message)

    def _inputs(self, now: float) -> Inputs:
        p = self.params
        policy = self.policy
        return Inputs(
            active=self._active,
            model_loaded=policy is not None,
            model_error=self._model_error,
            instruction_id=self._instruction.id if self._instruction else '',
            instruction_error=self._instruction_error,
            image_age=None if self._image_time is None else now - self._image_time,
            image_error=self._image_error,
            image_timeout=p.image_timeout,
            state_required=bool(policy is not None and policy.config.state_dim),
            state_age=None if self._state_time is None else now - self._state_time,
            state_timeout=p.state_timeout,
            safety_blocked=self._safety_blocked,
            safety_reason=self._safety_reason,
            inference_error=self._inference_error,
        )

    def _refresh(self, now: Optional[float] = None) -> Verdict:
        """Re-evaluate the state; on leaving RUNNING flush the queue and stop the robot."""
        now = self._now() if now is None else now
        with self._lock:
            verdict = evaluate(self._inputs(now))
            previous = self._verdict
            self._verdict = verdict
            stop = False
            if previous.state == sv.RUNNING and verdict.state != sv.RUNNING:
                self._queue.flush()
                self._reset_pending = True
                stop = self._commanding
                self._commanding = False
            changed = (previous.state, previous.key) != (verdict.state, verdict.key)
        if stop:
            self._publish_stop()
        if changed:
            text = (f'state {previous.state} -> {verdict.state}'
                    if previous.state != verdict.state else f'state {verdict.state}') + (
                f': {verdict.reason}' if verdict.reason else '')
            # rclpy refuses two severities at one call site: one call per severity.
            if verdict.state == sv.ERROR:
                self.get_logger().error(text)
            else:
                self.get_logger().info(text)
            self._publish_status()
        return verdict

    # ================================================================== inputs
    def _accept_image(self, rgb: np.ndarray, stamp: Any) -> None:
        now = self._now()
        t = _stamp_seconds(stamp)
        if t == 0.0:
            self._log_once('zero-stamp', 'camera images have no stamp: using receive time')
            t = now
        with self._lock:
            self._images_received += 1
            if self._image_time is not None and t < self._image_time:
                self._images_rejected += 1
                self._image_error = (f'out-of-order camera stamp ({t:.3f} s < last '
                                     f'{self._image_time:.3f} s): image rejected')
                self._refresh(now)
                return
            self._image = rgb
            self._image_stamp = stamp
            self._image_time = t
            self._image_error = ''
            active = self._active and self.policy is not None
        if active:
            thumb = scene_thumbnail(rgb)
            with self._lock:
                self._engine.on_scene(thumb, now)
                self._scene = thumb
        self._tick(now)

    def _reject_image(self, why: str) -> None:
        with self._lock:
            self._images_rejected += 1
            self._image_error = why
        self.get_logger().warning(why, throttle_duration_sec=5.0)
        self._refresh()

    def _on_image(self, msg: Image) -> None:
        try:
            rgb = image_to_rgb(msg)
        except ImageError as exc:
            self._reject_image(f'bad camera image: {exc}')
            return
        self._check_and_accept(rgb, msg.header.stamp)

    def _on_compressed(self, msg: CompressedImage) -> None:
        try:
            rgb = compressed_to_rgb(msg)
        except ImageError as exc:
            self._reject_image(f'bad compressed camera image: {exc}')
            return
        self._check_and_accept(rgb, msg.header.stamp)

    def _check_and_accept(self, rgb: np.ndarray, stamp: Any) -> None:
        if min(rgb.shape[:2]) < MIN_IMAGE_SIDE:
            self._reject_image(f'camera image {rgb.shape[1]}x{rgb.shape[0]} is smaller than '
                               f'{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}')
            return
        self._accept_image(rgb, stamp)

    def _accept_state(self, vec: np.ndarray, stamp: Any) -> None:
        now = self._now()
        t = _stamp_seconds(stamp) or now
        if not np.all(np.isfinite(vec)):
            self.get_logger().warning('robot state with NaN/Inf ignored',
                                      throttle_duration_sec=5.0)
            return
        with self._lock:
            if self._state_time is not None and t < self._state_time:
                return  # an older sample after a newer one carries no news
            self._state = vec
            self._state_time = t
            if self._active:
                self._engine.on_state(vec, now)

    def _on_odom(self, msg: Odometry) -> None:
        tw = msg.twist.twist
        self._accept_state(np.array([tw.linear.x, tw.linear.y, tw.angular.z]),
                           msg.header.stamp)

    def _on_joint_states(self, msg: JointState) -> None:
        self._accept_state(np.asarray(msg.position, dtype=np.float64), msg.header.stamp)

    def _on_safety(self, msg: SafetyState) -> None:
        name = SAFETY_STATE_NAMES.get(msg.state, str(msg.state))
        blocked, reason = safety_blocks(name, list(msg.reason_names),
                                        self.params.safety_pause_reasons)
        now = self._now()
        with self._lock:
            self._safety_blocked, self._safety_reason = blocked, reason
            self._engine.on_safety(blocked, now)
        self._tick(now)

    def _on_instruction(self, msg: Instruction) -> None:
        if msg.status == Instruction.STATUS_STOP:
            self._set_instruction(None, '', f'stop instruction {msg.id!r}: idle')
            return
        if msg.status == Instruction.STATUS_NOT_UNDERSTOOD:
            self._set_instruction(None, f'instruction {msg.id!r} not understood '
                                        f'({msg.text!r}): not moving', '')
            return
        key = (msg.id, msg.text, msg.canonical)
        if key == self._last_instruction_key and self._instruction is not None:
            return  # the latched instruction delivered again
        self._last_instruction_key = key
        self._set_instruction(CurrentInstruction(msg.id or f'ins-{time.time_ns()}', msg.text,
                                                 msg.canonical, msg.language), '', '')

    def _on_instruction_text(self, msg: String) -> None:
        self._text_counter += 1
        self._last_instruction_key = None
        self._set_instruction(CurrentInstruction(f'text-{self._text_counter}', msg.data, ''),
                              '', '')

    def _set_instruction(self, ins: Optional[CurrentInstruction], error: str,
                         note: str) -> None:
        now = self._now()
        if ins is not None:
            which = self.policy.config.condition_on if self.policy is not None else 'original'
            text = ins.canonical if which == 'canonical' else ins.text
            if not text.strip():
                error = (f'instruction {ins.id!r} has no {which} text: not moving'
                         if which == 'canonical' else f'empty instruction {ins.id!r}: '
                         'not moving')
                ins = None
        with self._lock:
            self._instruction = ins
            self._instruction_error = error
            self._inference_error = ''
            self._queue.flush()
            self._reset_pending = True
            stop = self._commanding
            self._commanding = False
            if ins is not None:
                self._engine.on_instruction(now, ins.id)
            else:
                self._engine.clear()
        if stop:
            self._publish_stop()
        if ins is not None:
            self.get_logger().info(f'instruction {ins.id}: {ins.text!r}'
                                   + (f' ({ins.canonical!r})' if ins.canonical else ''))
        elif note:
            self.get_logger().info(note)
        self._refresh(now)
        self._tick(now)

    # ================================================================== control loop
    def _on_control_tick(self) -> None:
        now = self._now()
        verdict = self._tick(now)
        if not verdict.may_command:
            return
        with self._lock:
            action = self._queue.pop()
            if action is not None:
                self._commanding = True
                self._commands_sent += 1
        if action is not None:
            self._publish_command(action)

    def _tick(self, now: float) -> Verdict:
        """Re-evaluate, then start an inference (or a history observation) if due."""
        verdict = self._refresh(now)
        if not verdict.may_infer:
            return verdict
        job = None
        with self._lock:
            if self._busy or self.policy is None or self._image is None:
                return verdict
            decision = self._engine.poll(now, True, self._busy, len(self._queue),
                                         self._scene, self._state)
            kind = 'infer'
            if decision is None:
                rate = self.params.history_rate
                if rate <= 0 or now - self._last_observe < 1.0 / rate:
                    return verdict
                kind = 'observe'
            job = self._make_job(kind, decision, now)
        if job is not None:
            try:
                self._jobs.put_nowait(job)
            except queue.Full:  # cannot happen while _busy guards submission; be explicit
                with self._lock:
                    self._busy = False
                self.get_logger().error('inference worker queue full: job not started')
        return verdict

    def _make_job(self, kind: str, decision: Optional[TriggerDecision],
                  now: float) -> InferenceJob:
        ins = self._instruction
        obs = Observation(self._image, ins.text, ins.canonical,
                          None if self._state is None else self._state.copy(), now)
        job = InferenceJob(kind, obs, self._queue.generation, self._queue.step,
                           self._reset_pending, ins.id, self._image_stamp, decision)
        self._reset_pending = False
        self._busy = True
        self._last_observe = now
        return job

    # ================================================================== worker
    def _worker_loop(self, jobs: 'queue.Queue[Optional[InferenceJob]]') -> None:
        while True:
            job = jobs.get()
            if job is None:
                return
            chunk, error = None, None
            t0 = time.monotonic()
            try:
                policy = self.policy
                if policy is None:
                    raise RuntimeError('model unloaded')
                if job.reset:
                    policy.reset()
                if job.kind == 'observe':
                    policy.observe(job.observation)
                else:
                    chunk = policy.predict_action_chunk(job.observation)
            except Exception as exc:  # noqa: BLE001 - any model failure is reported, not raised
                error = exc
            latency_ms = (time.monotonic() - t0) * 1e3
            try:
                self._on_result(job, chunk, error, latency_ms)
            except Exception as exc:  # noqa: BLE001 - keep the worker alive
                self.get_logger().error(f'handling an inference result failed: {exc!r}')
                with self._lock:
                    self._busy = False

    def _on_result(self, job: InferenceJob, chunk: Optional[np.ndarray],
                   error: Optional[BaseException], latency_ms: float) -> None:
        now = self._now()
        published = None
        with self._lock:
            self._busy = False
            if job.kind == 'observe':
                self._observations += error is None
                if error is not None:
                    self._log_once(f'observe-{type(error).__name__}',
                                   f'history observation failed: {error}')
                current = True
            else:
                self._inferences += 1
                self._latency.add(latency_ms)
                current = job.generation == self._queue.generation
                if error is not None:
                    self._engine.on_failure(now)
                    if isinstance(error, NonFiniteActionError):
                        msg = 'model produced NaN/Inf actions: chunk discarded, not moving'
                    elif isinstance(error, ObservationError):
                        msg = f'unusable input: {error}'
                    else:
                        msg = f'inference failed: {type(error).__name__}: {error}'
                    if current:
                        self._inference_error = msg
                        self._queue.flush()
                        self._reset_pending = True
                elif not current:
                    self._results_discarded += 1
                else:
                    self._inference_error = ''
                    result = self._queue.push(chunk, job.obs_step, job.generation)
                    if result.accepted:
                        self._last_chunk = chunk
                        published = chunk
                    else:
                        self._results_discarded += 1
                        self._log_once(f'push-{result.reason[:20]}',
                                       f'chunk not queued: {result.reason}')
        if job.kind == 'infer':
            if error is not None and current:
                self.get_logger().error(self._inference_error, throttle_duration_sec=5.0)
            if published is not None:
                self._publish_chunk(job, published)
                self._publish_debug(job, published, latency_ms)
            self._publish_status()
        self._tick(now)

    # ================================================================== outputs
    def _publish_command(self, action: np.ndarray) -> None:
        pub = self._cmd_pub
        if pub is None:
            return
        if not np.all(np.isfinite(action)):  # the queue rejects these; never publish one
            self.get_logger().error('non-finite action reached the output: not published')
            return
        if self.params.action_space == 'base':
            msg = Twist()
            msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in action[:3])
        else:
            msg = ArmCommand()
            msg.header.stamp = self.get_clock().now().to_msg()
            msg.header.frame_id = self.params.arm_frame_id
            msg.mode = ArmCommand.MODE_END_EFFECTOR_DELTA
            msg.ee_delta = [float(v) for v in action[:6]]
            msg.gripper = float(min(1.0, max(0.0, action[6])))
        pub.publish(msg)

    def _publish_stop(self) -> None:
        pub = self._cmd_pub
        if pub is None:
            return
        if self.params.action_space == 'base':
            pub.publish(Twist())
        else:
            msg = ArmCommand()
            msg.header.stamp = self.get_clock().now().to_msg()
            msg.header.frame_id = self.params.arm_frame_id
            msg.mode = ArmCommand.MODE_STOP
            pub.publish(msg)

    def _publish_chunk(self, job: InferenceJob, chunk: np.ndarray) -> None:
        pub = self._chunk_pub
        if pub is None:
            return
        msg = ActionChunk()
        if job.image_stamp is not None:
            msg.header.stamp = job.image_stamp
        msg.action_space = ActionChunk.ACTION_SPACE_BASE if self.params.action_space == 'base' \
            else ActionChunk.ACTION_SPACE_ARM
        msg.instruction_id = job.instruction_id
        msg.dt = 1.0 / self.params.control_rate
        msg.steps, msg.dims = int(chunk.shape[0]), int(chunk.shape[1])
        msg.data = [float(v) for v in chunk.reshape(-1)]
        msg.first_step_index = int(job.obs_step)
        pub.publish(msg)

    def _publish_debug(self, job: InferenceJob, chunk: np.ndarray, latency_ms: float) -> None:
        pub = self._debug_pub
        if pub is None or pub.get_subscription_count() == 0:
            return
        from .visualize import draw_debug

        obs = job.observation
        reason = job.decision.reason if job.decision else ''
        img = draw_debug(obs.images()[0], chunk, self.params.action_space, obs.instruction,
                         obs.canonical, job.instruction_id, reason, latency_ms)
        msg = fill_image(Image(), img, 'rgb8')
        if job.image_stamp is not None:
            msg.header.stamp = job.image_stamp
        msg.header.frame_id = 'camera_optical_frame'
        pub.publish(msg)

    def _on_heartbeat(self) -> None:
        pub = self._heartbeat_pub
        if pub is None or not self._active or not self._verdict.healthy:
            return
        msg = Header()
        msg.stamp = self.get_clock().now().to_msg()
        msg.frame_id = self.get_name()
        pub.publish(msg)

    def _on_status_timer(self) -> None:
        self._refresh()
        self._publish_status()

    def _publish_status(self) -> None:
        with self._lock:
            v = self._verdict
            stats = self._engine.stats
            msg = PolicyStatus()
            msg.header.stamp = self.get_clock().now().to_msg()
            msg.state = STATE_CODES[v.state]
            msg.backend = self.params.backend
            msg.model_id = self._model_id or self.params.model_path
            msg.action_space = self.params.action_space
            last = self._engine.last_decision
            msg.last_trigger = last.reason if last else PolicyStatus.TRIGGER_NONE
            msg.latency_last_ms = float(self._latency.last)
            msg.latency_p50_ms = self._latency.percentile(50)
            msg.latency_p95_ms = self._latency.percentile(95)
            msg.queue_depth = len(self._queue)
            msg.inference_count = int(self._inferences)
            for reason, count in stats.fired.items():
                setattr(msg, f'trigger_counts_{reason}', int(count))
            msg.instruction_id = self._instruction.id if self._instruction else ''
            msg.error = v.reason if v.state in (sv.ERROR, sv.PAUSED, sv.UNCONFIGURED) else ''
        self._status_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        with self._lock:
            v = self._verdict
            stats = self._engine.stats
            level = {sv.ERROR: DiagnosticStatus.ERROR, sv.UNCONFIGURED: DiagnosticStatus.ERROR,
                     sv.PAUSED: DiagnosticStatus.WARN}.get(v.state, DiagnosticStatus.OK)
            now = self._now()
            values = {
                'state': v.state,
                'backend': self.params.backend,
                'model': self.params.model_path,
                'model_description': self.policy.describe() if self.policy else '',
                'trigger_mode': self.params.trigger_mode,
                'inferences': self._inferences,
                'history_observations': self._observations,
                'latency_p50_ms': f'{self._latency.percentile(50):.1f}',
                'latency_p95_ms': f'{self._latency.percentile(95):.1f}',
                'queue_depth': len(self._queue),
                'commands_sent': self._commands_sent,
                'results_discarded': self._results_discarded,
                'images_received': self._images_received,
                'images_rejected': self._images_rejected,
                'inference_failures': stats.failures,
                'image_age_s': '-' if self._image_time is None
                else f'{now - self._image_time:.2f}',
                'scene_distance': f'{self._engine.last_scene_distance:.3f}',
                'state_distance': f'{self._engine.last_state_distance:.3f}',
                'rss_mb': f'{_rss_mb():.0f}',
            }
            for reason in stats.fired:
                values[f'triggers_{reason}'] = stats.fired[reason]
                values[f'coalesced_{reason}'] = stats.coalesced[reason]
        status = DiagnosticStatus(level=level, name=f'{self.get_name()}: policy',
                                  message=v.reason or v.state, hardware_id=self._model_id)
        status.values = [KeyValue(key=k, value=str(val)) for k, val in values.items()]
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [status]
        preflight = self._preflight_status()
        if preflight is not None:
            msg.status.append(preflight)
        self._diag_pub.publish(msg)

    def _preflight_status(self) -> Optional[DiagnosticStatus]:
        """The last configure's preflight (and the model's budget) as its own status."""
        with self._lock:
            report, budget = self._preflight, self._budget
        if report is None:
            return None
        values = report.values()
        if budget is not None:
            jetson = report.device.is_jetson
            latency = budget.orin_latency_ms if jetson else budget.cpu_latency_ms
            memory = budget.memory_mb('orin' if jetson else 'cpu')
            values.update({'budget': budget.key, 'budget_memory_mb': f'{memory:.0f}',
                           'budget_latency_ms': '-' if latency is None else f'{latency:g}'})
        level = (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR)[report.level]
        status = DiagnosticStatus(level=level, name=f'{self.get_name()}: preflight',
                                  message=report.summary(),
                                  hardware_id=report.device.model or 'not a Jetson')
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        return status


def main(args: Optional[List[str]] = None) -> int:
    """Entry point `policy_node`: a SingleThreadedExecutor; inference runs in its worker thread.

    Every callback is in the node's default (mutually exclusive) group, so a multi-threaded
    executor would add no parallelism, and rclpy 9.1's MultiThreadedExecutor stalls timers
    and subscriptions for up to seconds (src/vla_testing/benchmarks/bench_executors.py).
    """
    return run_node(PolicyNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
