"""Run one navigation episode through the real mobile stack and collect what happened.

Used by the demo (`scripts/demo.sh`), the end-to-end tests and the learning loop's evaluation:
start the described stack (separate processes over DDS), wait until every node is ready,
start a simulator episode, send the instruction text, record a rosbag2 file, and return the
episode result with the inferences, their triggers, what the safety gate did (shaping vs
overrides, as fractions of the task time) and, after a scene change, the reaction time.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from std_msgs.msg import String
from sensor_msgs.msg import Image
from vla_common.qos import COMMAND_QOS, LATCHED_QOS, RELIABLE_QOS, SENSOR_QOS
from vla_msgs.msg import (ActionChunk, EpisodeResult, Instruction, PolicyStatus, SafetyState,
                          TaskResult)
from vla_msgs.srv import StartEpisode
from vla_policy_node.execution.supervisor import INACTIVE_DETAIL

from vla_bringup.core.episode import (EpisodeReport, reaction_time, safety_time_fractions,
                                      TRIGGERS)
from vla_bringup.recorder import BagRecorder
from vla_bringup.runner import StackRunner
from vla_bringup.spinner import BackgroundSpinner
from vla_bringup.stacks import StackSpec

OUTCOMES = {EpisodeResult.OUTCOME_RUNNING: 'running', EpisodeResult.OUTCOME_REACHED: 'reached',
            EpisodeResult.OUTCOME_COLLIDED: 'collided',
            EpisodeResult.OUTCOME_TIMED_OUT: 'timed_out',
            EpisodeResult.OUTCOME_STOPPED_OUTSIDE: 'stopped_outside',
            EpisodeResult.OUTCOME_OVERSHOT: 'overshot',
            EpisodeResult.OUTCOME_MOVED_AFTER_STOP: 'moved_after_stop'}
TASK_RESULTS = {TaskResult.RESULT_DONE: 'done', TaskResult.RESULT_REFUSED: 'refused',
                TaskResult.RESULT_CANCELLED: 'cancelled', TaskResult.RESULT_PREEMPTED: 'preempted',
                TaskResult.RESULT_FAILED: 'failed'}
ENDED_BY = {EpisodeResult.ENDED_BY_NONE: 'none', EpisodeResult.ENDED_BY_POLICY: 'policy',
            EpisodeResult.ENDED_BY_TIMEOUT: 'timeout',
            EpisodeResult.ENDED_BY_COLLISION: 'collision'}
SIDES = {EpisodeResult.SIDE_NONE: 'none', EpisodeResult.SIDE_LEFT: 'left',
         EpisodeResult.SIDE_RIGHT: 'right'}
#: Every state change of the gate counts (time fractions): deeper than LATCHED_QOS.
SAFETY_HISTORY_QOS = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE,
                                durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class StackFailure(RuntimeError):
    """The stack itself failed (a node died, never became ready, a service was missing)."""


class StackSession:
    """An rclpy node (own context) that starts one stack and observes its policy and gate.

    The robot-specific sessions (`EpisodeSession`: the mobile base in mujoco_sim,
    `ArmEpisodeSession`: the arm in arm_sim) add their simulator's result and episodes.
    """

    #: The simulator's episode service (`<sim node>/start_episode`).
    START_SERVICE = 'mujoco_sim/start_episode'

    def __init__(self, stack: StackSpec, log=None, record_topics: Optional[Dict] = None,
                 env: Optional[Dict[str, str]] = None, runner=None) -> None:
        """`runner` starts the stack's processes (default StackRunner; anything with
        start/check/stop, e.g. `ros2 launch` in a child)."""
        self.stack = stack
        self.runner = runner or StackRunner(stack, env=env, log=log)
        self.record_topics = record_topics
        self._spinner = BackgroundSpinner('episode-session-spin')
        self.node = self._spinner.create_node('episode_session')
        self._lock = threading.Lock()
        self.status: Optional[PolicyStatus] = None
        self.safety: Optional[SafetyState] = None
        self.safety_states: Dict[str, int] = {}
        # On the simulator's clock (sim time): what the gate did, the policy's chunks (arrival,
        # observation stamp) and its commands (arrival).
        self.sim_time = 0.0
        self.safety_changes: List[Tuple[float, List[str]]] = []
        self.chunks: List[Tuple[float, float]] = []
        self.commands: List[float] = []
        # The instruction ids the instruction node published, and how the policy ended each.
        self.instruction_ids: List[str] = []
        self.task_results: Dict[str, TaskResult] = {}
        n = self.node
        n.create_subscription(PolicyStatus, 'policy_node/status', self._on_status, RELIABLE_QOS)
        n.create_subscription(SafetyState, 'safety_gate/state', self._on_safety,
                              SAFETY_HISTORY_QOS)
        n.create_subscription(Clock, '/clock', self._on_clock, QoSProfile(
            depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))
        n.create_subscription(ActionChunk, 'policy_node/action_chunk', self._on_chunk,
                              RELIABLE_QOS)
        n.create_subscription(Twist, 'cmd_vel_in', self._on_command, COMMAND_QOS)
        n.create_subscription(Instruction, 'instruction', self._on_instruction, LATCHED_QOS)
        # Camera stamps only: the instruction waits for frames of the new episode (below).
        self.camera_stamps: List[float] = []
        self._camera_sub = n.create_subscription(Image, 'camera/image_raw', self._on_camera,
                                                 SENSOR_QOS)
        n.create_subscription(TaskResult, 'policy_node/task_result', self._on_task_result,
                              LATCHED_QOS)
        self.text_pub = n.create_publisher(String, 'instruction_text', RELIABLE_QOS)
        self.start_client = n.create_client(StartEpisode, self.START_SERVICE)
        self.subscribe()
        self._spinner.start()

    def subscribe(self) -> None:
        """Create the robot's own subscriptions (before the node spins)."""

    # --- callbacks ---------------------------------------------------------------------------
    def _on_status(self, msg: PolicyStatus) -> None:
        with self._lock:
            self.status = msg

    def _on_safety(self, msg: SafetyState) -> None:
        with self._lock:
            self.safety = msg
            self.safety_changes.append((_seconds(msg.header.stamp), list(msg.reason_names)))
            name = {0: 'ok', 1: 'limited', 2: 'stopped', 3: 'estop'}.get(msg.state, '?')
            self.safety_states[name] = self.safety_states.get(name, 0) + 1

    def _on_clock(self, msg: Clock) -> None:
        with self._lock:
            self.sim_time = max(self.sim_time, _seconds(msg.clock))

    def _on_chunk(self, msg: ActionChunk) -> None:
        with self._lock:
            self.chunks.append((self.sim_time, _seconds(msg.header.stamp)))

    def _on_command(self, msg: Twist) -> None:
        with self._lock:
            self.commands.append(self.sim_time)

    def _on_camera(self, msg: Image) -> None:
        with self._lock:
            self.camera_stamps = (self.camera_stamps + [_seconds(msg.header.stamp)])[-20:]

    def _frames_since(self, t: float) -> int:
        with self._lock:
            return sum(1 for stamp in self.camera_stamps if stamp > t)

    def _on_instruction(self, msg: Instruction) -> None:
        with self._lock:
            if msg.id and msg.id not in self.instruction_ids:
                self.instruction_ids.append(msg.id)

    def _on_task_result(self, msg: TaskResult) -> None:
        with self._lock:
            self.task_results[msg.instruction_id] = msg

    def _task_result(self, known_before: int) -> str:
        """How the policy ended the episode's instruction (the first one the instruction node
        published after `known_before` ids): done, refused, ... or '' (not ended)."""
        with self._lock:
            ids = self.instruction_ids[known_before:]
            msg = self.task_results.get(ids[0]) if ids else None
        return TASK_RESULTS.get(msg.result, str(msg.result)) if msg is not None else ''

    # --- driving -----------------------------------------------------------------------------
    def wait_until(self, predicate, timeout: float, what: str) -> None:
        """Poll `predicate`; StackFailure when a node died or after `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            why = self.runner.check()
            if why:
                raise StackFailure(why)
            if predicate():
                return
            time.sleep(0.05)
        raise StackFailure(f'timed out after {timeout:.0f} s waiting for {what}')

    def wait_for_publishers(self, topics, timeout: float = 60.0) -> None:
        """Until this node has discovered a publisher on each of `topics`.

        The stack answering its services does not mean every publisher has been discovered:
        under load DDS discovery of a node can take longer than a 3 s lockstep episode.
        """
        topics = list(topics)
        self.wait_until(lambda: all(self.node.count_publishers(t) > 0 for t in topics),
                        timeout, f'publishers on {", ".join(topics)}')

    def start(self, ready_timeout: float = 120.0) -> None:
        """Start the stack and wait until its simulator, policy, gate and front-end are up."""
        self.runner.start()
        names = {n.name for n in self.stack.runnable_here()}
        if self.START_SERVICE.split('/')[0] in names:
            self.wait_until(lambda: self.start_client.service_is_ready(), ready_timeout,
                            f'the simulator ({self.START_SERVICE})')
        if 'policy_node' in names:
            # Active, not only loaded: a configured node reports IDLE 'node inactive' first,
            # and an instruction given then is refused as older than the activation.
            self.wait_until(lambda: self.status is not None and (
                self.status.state == PolicyStatus.STATE_ERROR or (
                    self.status.state in (PolicyStatus.STATE_IDLE, PolicyStatus.STATE_RUNNING,
                                          PolicyStatus.STATE_PAUSED, PolicyStatus.STATE_DONE)
                    and self.status.detail != INACTIVE_DETAIL)),
                ready_timeout, 'the policy to load its model and activate (policy_node/status)')
        if 'safety_gate' in names:
            self.wait_until(lambda: self.safety is not None, ready_timeout,
                            'the safety gate (safety_gate/state)')
        if 'instruction_node' in names:
            self.wait_until(lambda: self.text_pub.get_subscription_count() > 0, ready_timeout,
                            'the instruction node (instruction_text)')
        if self.status is not None and self.status.state == PolicyStatus.STATE_ERROR:
            raise StackFailure(f'policy error: {self.status.error}')

    def call(self, client, request, what: str, timeout: float = 30.0):
        """Call a service of the stack; StackFailure when it does not answer."""
        future = client.call_async(request)
        self.wait_until(future.done, timeout, f'{what} response')
        return future.result()

    def send_text(self, text: str) -> None:
        self.text_pub.publish(String(data=text))

    def _trigger_counts(self) -> Dict[str, int]:
        with self._lock:
            s = self.status
        return {k: int(getattr(s, f'trigger_counts_{k}')) if s else 0 for k in TRIGGERS}

    # ------------------------------------------------------------ episode steps (both robots)
    @contextlib.contextmanager
    def _episode(self, report: Any, bag_path: str) -> Iterator[None]:
        """Around one episode: record it to `bag_path` (if given; the report names the bag)
        and set the report's wall time."""
        recorder = BagRecorder(self.node, bag_path, self.record_topics) if bag_path else None
        t_wall = time.monotonic()
        try:
            yield
        finally:
            if recorder is not None:
                recorder.close()
                report.bag = bag_path
        report.wall_time = round(time.monotonic() - t_wall, 2)

    def start_episode(self, scenario: str, seed: int) -> None:
        """Ask the simulator for a new episode; StackFailure when it refuses."""
        response = self.call(self.start_client,
                             StartEpisode.Request(scenario=scenario, seed=int(seed)),
                             self.START_SERVICE)
        if not response.success:
            raise StackFailure(f'start_episode({scenario}, {seed}) refused: '
                               f'{response.message}')

    def _wait_for_result(self, report: Any, predicate: Callable[[], bool], timeout: float,
                         what: str) -> None:
        """Wait for `predicate`; when it times out the report's outcome is 'no_result'."""
        try:
            self.wait_until(predicate, timeout, what)
        except StackFailure as exc:
            if 'timed out' not in str(exc):
                raise
            report.outcome = 'no_result'

    def _policy_figures(self, report: Any) -> None:
        """The policy's inference latency and error into the report (lock held)."""
        if self.status is not None:
            report.latency_p50_ms = round(float(self.status.latency_p50_ms), 2)
            report.latency_p95_ms = round(float(self.status.latency_p95_ms), 2)
            report.policy_error = str(self.status.error)

    def close(self) -> None:
        self.runner.stop()
        self._spinner.close()

    def __enter__(self) -> 'StackSession':
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EpisodeSession(StackSession):
    """The mobile stack's navigation episodes in mujoco_sim."""

    def subscribe(self) -> None:
        self.results: List[EpisodeResult] = []
        self.trajectory: List[List[float]] = []
        self.node.create_subscription(EpisodeResult, 'episode_result', self._on_result,
                                      LATCHED_QOS)
        self.node.create_subscription(
            Odometry, 'ground_truth/odom', self._on_truth,
            QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT))

    def _on_result(self, msg: EpisodeResult) -> None:
        with self._lock:
            self.results.append(msg)

    def _on_truth(self, msg: Odometry) -> None:
        p = msg.pose.pose.position
        with self._lock:
            self.trajectory.append([msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
                                    p.x, p.y])

    def run_episode(self, scenario: str, seed: int, instruction: str, model: str = '',
                    timeout: float = 90.0, bag_path: str = '') -> EpisodeReport:
        """Start an episode, send `instruction`, wait for its end; return the report."""
        report = EpisodeReport(scenario, seed, instruction, model)
        with self._episode(report, bag_path):
            with self._lock:
                self.results.clear()
                self.trajectory.clear()
                self.chunks.clear()
                self.commands.clear()
                # the gate's state before the episode is the one it starts in
                self.safety_changes[:-1] = []
            counts0 = self._trigger_counts()
            self.start_episode(scenario, seed)
            self.wait_until(lambda: self._latest_outcome() == EpisodeResult.OUTCOME_RUNNING, 30.0,
                            'the episode to start')
            # The simulator moved the robot to the new start: a frame from before that (the
            # previous episode's end, at its cup) must not be what the policy sees when the
            # instruction arrives, or it may take the task for done. Wait for two frames of
            # the new episode (on a robot nothing teleports; an operator gives the task to a
            # robot standing where it is).
            started = self._last_result()
            if started is not None and self._camera_sub.get_publisher_count() > 0:
                t_start = _seconds(started.header.stamp)
                self.wait_until(lambda: self._frames_since(t_start) >= 2, 30.0,
                                'camera frames of the new episode')
            with self._lock:
                self.trajectory.clear()
                known_ids = len(self.instruction_ids)
            self.send_text(instruction)
            t_task = time.monotonic()
            self._wait_for_result(report, lambda: self._latest_outcome() not in (
                None, EpisodeResult.OUTCOME_RUNNING), timeout, 'the episode to end')
            task_wall = time.monotonic() - t_task
            result = self._last_result()
            ended = result is not None and result.outcome != EpisodeResult.OUTCOME_RUNNING
            if ended:
                report.set_result(
                    OUTCOMES.get(result.outcome, str(result.outcome)), result.time,
                    result.path_length, result.min_clearance,
                    [SIDES.get(int(s), 'none') for s in result.passed_sides],
                    SIDES.get(result.commanded_side, 'none'),
                    ENDED_BY.get(result.ended_by, 'none'), result.success, result.at_rest,
                    result.overshoot, result.final_distance, result.final_error)
                report.placement = result.placement or 'plain'
                report.layout_spread = result.layout_spread or 1.0
                report.perturbation = result.perturbation
                report.perturbation_time = result.perturbation_time
                # How fast the simulation ran: 1.0 = real time (a starved machine falls behind)
                report.realtime_factor = round(result.time / task_wall, 3) if task_wall > 0 \
                    else 0.0
            time.sleep(0.3)  # let the last status arrive
            report.task_result = self._task_result(known_ids)
            report.set_triggers(counts0, self._trigger_counts())
            with self._lock:
                self._policy_figures(report)
                if ended:
                    # The task's window on the sim clock: it ended at the result's stamp.
                    t1 = _seconds(result.header.stamp)
                    t0 = t1 - result.time
                    fractions, reasons = safety_time_fractions(self.safety_changes, t0, t1)
                    report.safety_time = {k: round(v, 4) for k, v in fractions.items()}
                    report.safety_reasons = {k: round(v, 4) for k, v in sorted(reasons.items())}
                    if result.perturbation_time >= 0.0:
                        report.reaction_time = reaction_time(
                            t0 + result.perturbation_time, self.chunks, self.commands)
                report.trajectory = list(self.trajectory)
        return report

    def _last_result(self) -> Optional[EpisodeResult]:
        with self._lock:
            return self.results[-1] if self.results else None

    def _latest_outcome(self) -> Optional[int]:
        r = self._last_result()
        return None if r is None else r.outcome


def default_model() -> str:
    """The shipped default policy checkpoint (vla_bringup/models/nano_base)."""
    from vla_bringup.stacks import default_model_path

    return default_model_path()
