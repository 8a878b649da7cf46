"""Run one tabletop episode through the real arm stack and collect what happened.

Used by the arm demo (`scripts/demo.sh --robot arm`), the arm's end-to-end tests and the
learning loop: start the described stack (arm_sim, safety gate, policy, RealMan bridge,
instruction node as separate processes over DDS), start an arm_sim episode, send the Korean
instruction, record a rosbag2 file, and end the episode the way the policy ends its task:

* the policy reports the instruction finished (`policy_node/task_result`: done, refused,
  failed, cancelled) -> `arm_sim/end_episode`, ended by the policy, judged now;
* or the simulator's time limit runs out first -> timed out (a task the policy never ended is
  not a success, whatever the table looks like).
The simulator only judges; nothing here stops the arm.
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Tuple

from geometry_msgs.msg import Pose
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_srvs.srv import Trigger
from vla_common.arm_verdict import OUTCOMES
from vla_common.qos import LATCHED_QOS
from vla_msgs.msg import ArmEpisodeResult, Instruction, TaskResult

from vla_bringup.core.arm_episode import ArmEpisodeReport
from vla_bringup.session import StackFailure, StackSession, TASK_RESULTS
from vla_bringup.stacks import resolved_parameters


class ArmEpisodeSession(StackSession):
    """The arm stack's tabletop episodes in arm_sim."""

    START_SERVICE = 'arm_sim/start_episode'

    def subscribe(self) -> None:
        n = self.node
        self.results: List[ArmEpisodeResult] = []
        self.timed_task_results: List[Tuple[float, TaskResult]] = []
        self.instructions: List[Tuple[float, Instruction]] = []
        self.ee_path: List[List[float]] = []
        n.create_subscription(ArmEpisodeResult, 'arm_sim/episode_result', self._on_result,
                              LATCHED_QOS)
        n.create_subscription(TaskResult, 'policy_node/task_result', self._on_timed_task_result,
                              LATCHED_QOS)
        n.create_subscription(Instruction, 'instruction', self._on_timed_instruction,
                              LATCHED_QOS)
        n.create_subscription(Pose, 'rm_driver/udp_arm_position', self._on_pose,
                              QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.end_client = n.create_client(Trigger, 'arm_sim/end_episode')
        gate = resolved_parameters(self.stack.node('safety_gate'))
        self.workspace = (list(gate.get('arm.workspace_min', [])),
                          list(gate.get('arm.workspace_max', [])))
        self._pose_every = 5           # keep every 5th tool pose (20 Hz of the 100 Hz stream)
        self._pose_count = 0

    def _on_result(self, msg: ArmEpisodeResult) -> None:
        with self._lock:
            self.results.append(msg)

    def _on_timed_task_result(self, msg: TaskResult) -> None:
        with self._lock:
            self.timed_task_results.append((time.monotonic(), msg))

    def _on_timed_instruction(self, msg: Instruction) -> None:
        with self._lock:
            self.instructions.append((time.monotonic(), msg))

    def _on_pose(self, msg: Pose) -> None:
        with self._lock:
            self._pose_count += 1
            if self._pose_count % self._pose_every == 0:
                p = msg.position
                self.ee_path.append([p.x, p.y, p.z])

    def _last_result(self) -> Optional[ArmEpisodeResult]:
        with self._lock:
            return self.results[-1] if self.results else None

    def _task_result_since(self, t: float, text: str) -> Optional[TaskResult]:
        """How the policy ended the instruction with `text` sent at `t` (None until it did):
        matched by the id the instruction node gave it, not by arrival (a new instruction
        preempts the previous one, and that TaskResult arrives after `t` too)."""
        with self._lock:
            ids = {m.id for s, m in self.instructions if s >= t and m.text == text}
            later = [m for s, m in self.timed_task_results if s >= t and m.instruction_id in ids]
        return later[-1] if later else None

    def run_episode(self, task: str, seed: int, instruction: str, model: str = '',
                    timeout: float = 120.0, bag_path: str = '',
                    arm_model: str = '') -> ArmEpisodeReport:
        """Start an episode, send `instruction`, wait for its end; return the report."""
        report = ArmEpisodeReport(task=task, seed=seed, instruction=instruction, model=model,
                                  arm_model=arm_model or self.stack.arguments.get('arm_model', ''))
        with self._episode(report, bag_path):
            with self._lock:
                self.results.clear()
                self.ee_path.clear()
                self.safety_states.clear()
            counts0 = self._trigger_counts()
            interventions0 = self.safety.interventions if self.safety else 0
            self.start_episode(task, seed)
            self.wait_until(lambda: self._running(task, started=False), 30.0,
                            'the episode to start')
            with self._lock:
                self.ee_path.clear()
            t_instruction = time.monotonic()
            self.send_text(instruction)
            ended = self._wait_for_end(t_instruction, instruction, timeout)
            if ended is not None:
                report.task_result = TASK_RESULTS.get(ended.result, str(ended.result))
                if self._running(task):
                    self.call(self.end_client, Trigger.Request(), 'arm_sim/end_episode')
            self._wait_for_result(report, lambda: self._final(task) is not None, 30.0,
                                  'the episode result')
            result = self._final(task)
            if result is not None:
                self._fill(report, result)
            time.sleep(0.3)  # let the last status arrive
            report.set_triggers(counts0, self._trigger_counts())
            with self._lock:
                self._policy_figures(report)
                if self.safety is not None:
                    report.safety_interventions = int(self.safety.interventions
                                                      - interventions0)
                report.safety_states = dict(self.safety_states)
                report.ee_path = list(self.ee_path)
        return report

    def _running(self, task: str, started: Optional[bool] = None) -> bool:
        r = self._last_result()
        return (r is not None and r.task == task and r.outcome == ArmEpisodeResult.OUTCOME_RUNNING
                and (started is None or r.started == started))

    def _final(self, task: str) -> Optional[ArmEpisodeResult]:
        r = self._last_result()
        return r if r is not None and r.task == task and r.outcome != \
            ArmEpisodeResult.OUTCOME_RUNNING else None

    def _wait_for_end(self, since: float, text: str, timeout: float) -> Optional[TaskResult]:
        """Until the policy ends the instruction (its TaskResult) or the simulator's time limit
        ends the episode; the TaskResult, or None."""
        holder: Dict[str, TaskResult] = {}

        def ended() -> bool:
            task_result = self._task_result_since(since, text)
            if task_result is not None:
                holder['result'] = task_result
                return True
            r = self._last_result()
            return r is not None and r.outcome != ArmEpisodeResult.OUTCOME_RUNNING

        try:
            self.wait_until(ended, timeout, 'the policy or the time limit to end the task')
        except StackFailure as exc:
            if 'timed out' not in str(exc):
                raise
        return holder.get('result')

    def _fill(self, report: ArmEpisodeReport, r: ArmEpisodeResult) -> None:
        report.outcome = OUTCOMES.get(r.outcome, str(r.outcome))
        report.ended_by = r.ended_by
        report.time = round(float(r.time), 3)
        report.success = bool(r.success and r.outcome == ArmEpisodeResult.OUTCOME_SUCCESS)
        report.grasped, report.placed = bool(r.grasped), bool(r.placed)
        report.released, report.retracted = bool(r.released), bool(r.retracted)
        report.still = bool(r.still)
        report.target_object = r.target_object

        def xyz(p):
            return [round(float(p.x), 4), round(float(p.y), 4), round(float(p.z), 4)]

        report.object_start, report.object_end = xyz(r.object_start), xyz(r.object_end)
        report.tcp_min, report.tcp_max = xyz(r.tcp_min), xyz(r.tcp_max)
        report.disturbed = list(r.disturbed)
        report.hard_stops = int(r.hard_stops)
        report.commands_ignored = int(r.commands_ignored)
        if all(len(v) == 3 for v in self.workspace):
            report.check_workspace(*self.workspace)


__all__ = ['ArmEpisodeSession', 'OUTCOMES', 'TASK_RESULTS']
