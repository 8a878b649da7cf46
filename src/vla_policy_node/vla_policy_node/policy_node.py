"""policy_node: the event-triggered VLA policy as a ROS 2 lifecycle node.

Camera + robot state + instruction in; `cmd_vel_in` (Twist, base) or `arm_cmd_in`
(ArmCommand, arm) out towards the safety gate. Every decision is made by the pure executive
(`execution/executive.py`); this node is its adapter: it converts messages, owns the timers,
publishers and parameters, and runs inference in a worker thread whose results come back to
the executor thread through a guard condition, so the executive is only ever called from one
thread and instruction, safety and parameter callbacks never wait for the model.

Lifecycle: configure loads the model (parameter `model_path`, required), activate starts the
control loop (only instructions given from then on are executed), deactivate flushes the
queue and publishes a stop first, cleanup frees the model. How every instruction ends is
published on `~/task_result`. With `autostart` (default) the node configures and activates
itself; a failed configure leaves it unconfigured, reporting the error on `~/status` and
`/diagnostics`, and it retries when `model_path` is set again.
"""

from __future__ import annotations

import gc
import os
import queue
import threading
import time
import warnings
from typing import Any, List, Optional, Tuple

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import CompressedImage, Image, JointState, LaserScan
from std_msgs.msg import Header
from vla_common import topics
from vla_common.image import compressed_to_rgb, image_to_rgb, ImageError
from vla_common.node_main import lower_thread_priority, run_node
from vla_common.qos import COMMAND_QOS, LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from vla_msgs.msg import (ActionChunk, ArmCommand, Instruction, PolicyStatus, SafetyState,
                          TaskResult)

from . import messages as m
from .execution.executive import (ChunkOut, Executive, InferenceJob, InferenceResult,
                                  ModelInfo, Output, run_job)
from .parameters import declare_parameters, NodeParams, read_params, RELOAD_PARAMS
from .policies.errors import PolicyError
from .policies.observation import MIN_IMAGE_SIDE
from .preflight import checkpoint_preflight, PreflightReport, process_rss_mb

NODE_NAME = topics.POLICY_NODE
SAFETY_STATE_TOPIC = f'{topics.SAFETY_NODE}/state'


class PolicyNode(LifecycleNode):
    """The event-triggered policy node (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        declare_parameters(self)
        self.policy: Any = None
        model_error = ''
        try:
            self.params = read_params(self)
        except (ValueError, TypeError) as exc:
            self.params = NodeParams()
            model_error = f'invalid parameters: {exc}'
        self.executive = Executive(self.params.executive_config())
        self.executive.model = ModelInfo(error=model_error)
        self._model_id = ''
        self._configured = False
        self._worker: Optional[threading.Thread] = None
        self._jobs: 'queue.Queue[Optional[InferenceJob]]' = queue.Queue(maxsize=1)
        self._results: 'queue.SimpleQueue[Tuple[InferenceJob, InferenceResult]]' = \
            queue.SimpleQueue()
        self._results_ready = self.create_guard_condition(self._on_results)
        self._preflight: Optional[PreflightReport] = None
        self._budget: Any = None
        # Status and diagnostics report errors even while unconfigured.
        self._status_pub = self.create_publisher(PolicyStatus, topics.POLICY_STATUS,
                                                 RELIABLE_QOS)
        # How each instruction ended; latched, so a late joiner sees the last one.
        self._result_pub = self.create_publisher(TaskResult, topics.TASK_RESULT, LATCHED_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, 10)
        self.create_timer(1.0 / self.params.status_rate, self._on_status_timer)
        self.create_timer(1.0, self._publish_diagnostics)
        self._io: List[Any] = []
        self._run_timers: List[Any] = []
        self._cmd_pub: Any = None
        self._chunk_pub: Any = None
        self._heartbeat_pub: Any = None
        self._debug_pub: Any = None
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._autostart_timer = None
        if self.get_parameter('autostart').value:
            self._autostart_timer = self.create_timer(0.01, self._autostart)
        self._apply(self.executive.tick(self._now()))
        self._publish_status()

    # ================================================================== parameters
    def _on_set_parameters(self, params: List[Any]) -> SetParametersResult:
        changes = {p.name: p.value for p in params}
        known = {k: v for k, v in changes.items() if k in NodeParams.__dataclass_fields__}
        if not known:
            return SetParametersResult(successful=True)
        try:
            new = read_params(self, known)
        except (ValueError, TypeError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.params = new
        self._apply(self.executive.reconfigure(new.executive_config()))
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
            params = read_params(self)
        except (ValueError, TypeError) as exc:
            return self._fail_configure(f'invalid parameters: {exc}')
        self.params = params
        self.executive.reconfigure(params.executive_config())
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
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                policy = self._load_policy(params)
        except (PolicyError, OSError, ValueError, RuntimeError, ImportError) as exc:
            return self._fail_configure(f'cannot load model {params.model_path!r}: '
                                        f'{type(exc).__name__}: {exc}')
        problem, notes = params.fit_model(policy)
        for note in [f'{w.category.__name__}: {w.message}' for w in caught] + notes:
            self.get_logger().warning(note)    # e.g. NoDoneSignalWarning
        if problem:
            return self._fail_configure(problem)
        self.policy = policy
        self._model_id = policy.config.name or os.path.basename(
            os.path.normpath(params.model_path))
        self._configured = True
        self._create_io(params)
        self.get_logger().info(f'policy loaded in {time.monotonic() - t0:.1f} s: '
                               f'{policy.describe()}')
        self._apply(self.executive.set_model(ModelInfo(
            True, '', policy.config.condition_on, int(policy.config.state_dim),
            policy.has_done_signal), self._now()))
        return TransitionCallbackReturn.SUCCESS

    def _load_policy(self, params: NodeParams) -> Any:
        from .policies import load_policy

        return load_policy(params.model_path, params.backend, params.num_threads)

    def _run_preflight(self, params: NodeParams) -> PreflightReport:
        """Device, power, clocks, temperature, engine match, memory vs the model budget."""
        self._preflight, self._budget = checkpoint_preflight(
            params.model_path, params.backend, params.preflight_limits(),
            process_rss_mb() / 1.048576)
        self.get_logger().info(self._preflight.summary())
        return self._preflight

    def _fail_configure(self, message: str) -> TransitionCallbackReturn:
        self.get_logger().error(message)
        self.policy = None
        self._configured = False
        self._apply(self.executive.set_model(ModelInfo(error=message), self._now()))
        return TransitionCallbackReturn.FAILURE

    def _create_io(self, p: NodeParams) -> None:
        sub, pub = self.create_subscription, self.create_publisher
        if p.action_space == 'base':
            self._cmd_pub = pub(Twist, topics.CMD_VEL_IN, COMMAND_QOS)
            state_sub = sub(Odometry, topics.ODOM, self._on_odom, SENSOR_QOS)
            if p.scan_change_points > 0:   # the laser's scene-change trigger
                self._io.append(sub(LaserScan, topics.SCAN, self._on_scan, SENSOR_QOS))
        else:
            self._cmd_pub = pub(ArmCommand, topics.ARM_CMD_IN, COMMAND_QOS)
            state_sub = sub(JointState, topics.JOINT_STATES, self._on_joint_states, SENSOR_QOS)
        self._chunk_pub = pub(ActionChunk, topics.ACTION_CHUNK, RELIABLE_QOS)
        self._heartbeat_pub = pub(Header, topics.HEARTBEAT, COMMAND_QOS)
        self._debug_pub = pub(Image, topics.DEBUG_IMAGE, SENSOR_QOS)
        self._io += [self._cmd_pub, self._chunk_pub, self._heartbeat_pub, self._debug_pub,
                     state_sub,
                     sub(Image, topics.CAMERA_IMAGE, self._on_image, SENSOR_QOS),
                     sub(CompressedImage, topics.CAMERA_COMPRESSED, self._on_compressed,
                         SENSOR_QOS),
                     sub(Instruction, topics.INSTRUCTION, self._on_instruction, LATCHED_QOS),
                     sub(SafetyState, SAFETY_STATE_TOPIC, self._on_safety, LATCHED_QOS)]

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        p = self.params
        self._jobs = queue.Queue(maxsize=1)
        self._results = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._worker_loop,
                                        args=(self._jobs, self._results),
                                        name='policy-inference', daemon=True)
        self._worker.start()
        self._run_timers = [self.create_timer(1.0 / p.control_rate, self._on_control_tick),
                            self.create_timer(1.0 / p.heartbeat_rate, self._on_heartbeat)]
        self.get_logger().info(f'active: {p.trigger_mode} triggers, control {p.control_rate:g} '
                               f'Hz, {p.action_space} commands')
        self._apply(self.executive.activate(self._now()))
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_running('deactivated')
        return TransitionCallbackReturn.SUCCESS

    def _stop_running(self, why: str) -> None:
        self._apply(self.executive.deactivate(why, self._now()))
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
        self._apply(self.executive.job_dropped(self._now()))

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.executive.active:
            self._stop_running('shutdown')
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_running('lifecycle error')
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        self._stop_worker()
        for entity in self._io:
            if hasattr(entity, 'publish'):
                self.destroy_publisher(entity)
            else:
                self.destroy_subscription(entity)
        self._io = []
        self._cmd_pub = self._chunk_pub = self._heartbeat_pub = self._debug_pub = None
        self.policy = None
        self._configured = False
        self._apply(self.executive.set_model(ModelInfo(), self._now()))
        gc.collect()

    def destroy_node(self) -> None:
        """Stop the worker and publish a stop before the node goes away."""
        if self.executive.active:
            try:
                self._stop_running('node destroyed')
            except Exception:  # noqa: BLE001 - the context may already be shut down
                pass
        self._stop_worker()
        super().destroy_node()

    # ================================================================== worker
    def _worker_loop(self, jobs: 'queue.Queue[Optional[InferenceJob]]',
                     results: 'queue.SimpleQueue[Tuple[InferenceJob, InferenceResult]]') -> None:
        """Inference only: the result goes back to the executor thread (guard condition)."""
        problem = lower_thread_priority(self.params.inference_nice)
        if problem:
            self.get_logger().warning(f'inference_nice not applied: {problem}')
        while True:
            job = jobs.get()
            if job is None:
                return
            results.put((job, run_job(self.policy, job)))
            try:
                self._results_ready.trigger()
            except Exception:  # noqa: BLE001 - the node is being destroyed
                return

    def _on_results(self) -> None:
        while True:
            try:
                job, result = self._results.get_nowait()
            except queue.Empty:
                return
            self._apply(self.executive.on_result(job, result, self._now()))

    # ================================================================== inputs
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_image(self, msg: Image) -> None:
        self._on_frame(msg, image_to_rgb, 'bad camera image')

    def _on_compressed(self, msg: CompressedImage) -> None:
        self._on_frame(msg, compressed_to_rgb, 'bad compressed camera image')

    def _on_frame(self, msg: Any, decode: Any, what: str) -> None:
        try:
            rgb = decode(msg)
            if min(rgb.shape[:2]) < MIN_IMAGE_SIDE:
                raise ImageError(f'{rgb.shape[1]}x{rgb.shape[0]} is smaller than '
                                 f'{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}')
        except ImageError as exc:
            self._apply(self.executive.reject_image(f'{what}: {exc}', self._now()))
            return
        self._apply(self.executive.on_image(rgb, m.stamp_ns(msg.header.stamp), self._now()))

    def _on_odom(self, msg: Odometry) -> None:
        tw = msg.twist.twist
        self._apply(self.executive.on_state(np.array([tw.linear.x, tw.linear.y, tw.angular.z]),
                                            m.stamp_ns(msg.header.stamp), self._now(),
                                            pose=m.odom_pose(msg)))

    def _on_scan(self, msg: LaserScan) -> None:
        self._apply(self.executive.on_scan(m.scan_geometry(msg), msg.ranges,
                                           m.stamp_ns(msg.header.stamp), self._now()))

    def _on_joint_states(self, msg: JointState) -> None:
        self._apply(self.executive.on_state(np.asarray(msg.position, dtype=np.float64),
                                            m.stamp_ns(msg.header.stamp), self._now()))

    def _on_safety(self, msg: SafetyState) -> None:
        self._apply(self.executive.on_safety(m.safety_state_name(msg), list(msg.reason_names),
                                             self._now()))

    def _on_instruction(self, msg: Instruction) -> None:
        self._apply(self.executive.on_instruction(m.instruction_input(msg), self._now()))

    def _on_control_tick(self) -> None:
        self._apply(self.executive.control_tick(self._now()))

    # ================================================================== outputs
    def _apply(self, out: Output) -> None:
        """Carry out what the executive decided: the commands and the inference job first
        (they are on the reaction path), then publish chunks, results and status, then log."""
        for action in out.commands:
            self._publish_command(action)
        for job in out.jobs:
            try:
                self._jobs.put_nowait(job)
            except queue.Full:  # cannot happen while the executive runs one job at a time
                self.get_logger().error('inference worker queue full: job not started')
                self._apply(self.executive.job_dropped(self._now()))
        for chunk in out.chunks:
            self._publish_chunk(chunk)
        for result in out.results:
            self._result_pub.publish(m.task_result(result, self.get_clock().now().to_msg()))
        if out.status:
            self._publish_status()
        logger = self.get_logger()
        for log in out.logs:
            # rclpy refuses two severities at one call site: one call per severity.
            if log.level == 'error':
                logger.error(log.text)
            elif log.level == 'warning':
                logger.warning(log.text)
            else:
                logger.info(log.text)

    def _publish_command(self, action: Optional[np.ndarray]) -> None:
        if self._cmd_pub is None:
            return
        if action is not None and not np.all(np.isfinite(action)):
            self.get_logger().error('non-finite action reached the output: not published')
            return
        self._cmd_pub.publish(m.command_message(action, self.params.action_space,
                                                self.params.arm_frame_id,
                                                self.get_clock().now().to_msg()))

    def _publish_chunk(self, out: ChunkOut) -> None:
        if self._chunk_pub is not None:
            self._chunk_pub.publish(m.chunk_message(out, self.params.action_space,
                                                    1.0 / self.params.control_rate))
        if self._debug_pub is not None and self._debug_pub.get_subscription_count() > 0:
            self._debug_pub.publish(m.debug_image(out, self.params.action_space))

    def _on_heartbeat(self) -> None:
        pub = self._heartbeat_pub
        if pub is None or not self.executive.heartbeat():
            return
        pub.publish(Header(stamp=self.get_clock().now().to_msg(), frame_id=self.get_name()))

    def _on_status_timer(self) -> None:
        self._apply(self.executive.tick(self._now()))
        self._publish_status()

    def _publish_status(self) -> None:
        self._status_pub.publish(m.status_message(
            self.executive.snapshot(), self.params.backend,
            self._model_id or self.params.model_path, self.params.action_space,
            self.get_clock().now().to_msg()))

    def _publish_diagnostics(self) -> None:
        values = self.executive.diagnostic_values(self._now())
        values.update(backend=self.params.backend, model=self.params.model_path,
                      model_description=self.policy.describe() if self.policy else '',
                      done_signal=bool(self.policy and self.policy.has_done_signal),
                      rss_mb=f'{process_rss_mb():.0f}')
        self._diag_pub.publish(m.diagnostics(
            self.get_name(), self.executive.verdict, self._model_id, values, self._preflight,
            self._budget, self.get_clock().now().to_msg()))


def main(args: Optional[List[str]] = None) -> int:
    """Entry point `policy_node`: a SingleThreadedExecutor; inference runs in its worker thread.

    Every callback is in the node's default (mutually exclusive) group, so a multi-threaded
    executor would add no parallelism, and rclpy 9.1's MultiThreadedExecutor stalls timers
    and subscriptions for up to seconds (src/vla_testing/benchmarks/bench_executors.py).
    """
    return run_node(PolicyNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
