"""The executive on a simulated clock: scripted inference latency, camera, control timer.

`Sim` is a discrete-event driver: camera frames at 30 Hz, the control timer at 10 Hz, and
inference results delivered `latency` simulated seconds after their job was emitted. The
policy is `ScriptedPolicy` (a real Policy subclass whose actions name the frame and the chunk
step they came from), so every command can be traced to its chunk. Nothing here sleeps.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import pytest
from scripted_policy import expected_chunk, frame, ScriptedPolicy
from vla_policy_node.execution import supervisor as sv
from vla_policy_node.execution.executive import (Executive, ExecutiveConfig, InferenceJob,
                                                 InferenceResult, InstructionInput, ModelInfo,
                                                 NOT_UNDERSTOOD, OBSERVE, Output, REFUSED,
                                                 run_job, STOP, UNPARSED)
from vla_policy_node.execution.lockstep import Lockstep
from vla_policy_node.execution.triggers import TriggerConfig
from vla_policy_node.policies.errors import ObservationError

DARK, BRIGHT = 0.2, 0.8            # frames whose chunks go right (-y) and left (+y)
VY = {DARK: expected_chunk(DARK)[0, 1], BRIGHT: expected_chunk(BRIGHT)[0, 1]}


class Sim:
    """Camera, control timer and a worker with scripted latency, on simulated time."""

    def __init__(self, latency: Union[float, Callable[[InferenceJob], float]] = 0.05,
                 policy: Optional[ScriptedPolicy] = None, start: float = 10.0,
                 camera_rate: float = 30.0, tick_jitter: Callable[[int], float] = lambda k: 0.0,
                 **config: Any) -> None:
        config.setdefault('trigger', TriggerConfig(keepalive_period=0.0))
        self.config = ExecutiveConfig(**config)
        self.ex = Executive(self.config)
        self.policy = policy or ScriptedPolicy()
        self.latency = latency
        self.t = start
        self.brightness = DARK
        self.camera_on = True
        self.camera_age = 0.0
        self.commands: List[Tuple[float, Optional[np.ndarray]]] = []
        self.chunks: List[Tuple[float, Any]] = []
        self.jobs: List[InferenceJob] = []
        self.logs: List[Tuple[str, str]] = []
        self.ended: List[Any] = []
        self.status_events = 0
        self._events: List[Tuple[float, int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.ticks: List[float] = []                # control timer ticks
        self.arrivals: List[float] = []             # event chunks that acted on arrival
        self.apply(self.ex.set_model(ModelInfo(True, '', self.policy.config.condition_on,
                                               self.policy.config.state_dim,
                                               self.policy.has_done_signal), self.t))
        self.apply(self.ex.activate(self.t - 1.0))   # activated a second before the script
        self._camera_period = 1.0 / camera_rate
        self.at(self.t, self._frame, 0)
        self._tick_jitter = tick_jitter              # s late, per tick of a fixed schedule
        self._tick_base = self.t + self.config.period / 2
        self.at(self._tick_base + tick_jitter(0), lambda: self._control_tick(0), 2)
        self.run(self.t)                            # the first frame is there

    # ---------------------------------------------------------------- driver
    def at(self, t: float, fn: Callable[[], None], order: int = 1) -> None:
        """Run `fn` at simulated time `t` (equal times: frames, script/results, ticks)."""
        heapq.heappush(self._events, (t, order, next(self._seq), fn))

    def run(self, until: float) -> None:
        while self._events and self._events[0][0] <= until + 1e-12:
            t, _, _, fn = heapq.heappop(self._events)
            self.t = t
            fn()
        self.t = until

    def apply(self, out: Output) -> Output:
        self.commands += [(self.t, c) for c in out.commands]
        self.chunks += [(self.t, c) for c in out.chunks]
        self.logs += [(log.level, log.text) for log in out.logs]
        self.ended += out.results
        self.status_events += out.status
        for job in out.jobs:
            self.jobs.append(job)
            result = run_job(self.policy, job)
            latency = self.latency(job) if callable(self.latency) else self.latency
            result.latency_ms = latency * 1e3
            self.at(self.t + latency, lambda job=job, result=result: self._result(job, result))
        return out

    def _result(self, job: InferenceJob, result: InferenceResult) -> None:
        if self.apply(self.ex.on_result(job, result, self.t)).commands:
            self.arrivals.append(self.t)

    def _frame(self) -> None:
        if self.camera_on:
            stamp = int(round((self.t - self.camera_age) * 1e9))
            self.apply(self.ex.on_image(frame(self.brightness), stamp, self.t))
        self.at(self.t + self._camera_period, self._frame, 0)

    def _control_tick(self, k: int) -> None:
        self.ticks.append(self.t)
        self.apply(self.ex.control_tick(self.t))
        self.at(self._tick_base + (k + 1) * self.config.period + self._tick_jitter(k + 1),
                lambda: self._control_tick(k + 1), 2)

    def tick_after(self, t: float) -> float:
        return next(tick for tick in self.ticks if tick > t + 1e-9)

    # ---------------------------------------------------------------- script
    def instruct(self, ins_id: str = 'ins-1', text: str = 'go left', status: str = 'understood',
                 canonical: str = '', age: float = 0.0, reason: str = '') -> Output:
        """An instruction given `age` s ago (its stamp), received now."""
        return self.apply(self.ex.on_instruction(InstructionInput(
            ins_id, text, status, canonical, stamp_ns=int(round((self.t - age) * 1e9)),
            reason=reason), self.t))

    def results(self) -> List[Tuple[str, str, str]]:
        return [(r.instruction_id, r.result, r.reason) for r in self.ended]

    def moving(self, since: float = float('-inf')) -> List[np.ndarray]:
        return [c for t, c in self.commands if t >= since and c is not None]

    def stops(self, since: float = float('-inf')) -> int:
        return sum(1 for t, c in self.commands if t >= since and c is None)

    @property
    def state(self) -> str:
        return self.ex.verdict.state


# ------------------------------------------------------------------------------ basics

def test_an_instruction_starts_an_inference_and_its_chunk_is_executed_step_by_step():
    sim = Sim(latency=0.13)
    sim.run(sim.t + 0.2)
    assert sim.state == sv.IDLE and not sim.jobs and not sim.commands
    sim.instruct()
    assert len(sim.jobs) == 1 and sim.jobs[0].decision.reason == 'instruction'
    assert sim.jobs[0].reset and sim.jobs[0].observation.instruction == 'go left'
    t0 = sim.t
    sim.run(sim.t + 1.0)
    chunk = expected_chunk(DARK)
    moving = sim.moving()
    # the chunk acts when it arrives, 0.13 s after the observation; the robot held still
    # meanwhile (nothing was queued), so none of it is stale: step 0 first, in place of the
    # next tick's action, then one step per control tick
    arrival = t0 + 0.13
    assert sim.commands[0][0] == pytest.approx(arrival) and sim.arrivals == [arrival]
    assert len(moving) >= 8
    np.testing.assert_allclose(moving[0], chunk[0], atol=1e-6)
    np.testing.assert_allclose(moving[1], chunk[1], atol=1e-6)
    taken = sim.tick_after(arrival)
    assert sim.commands[1][0] == pytest.approx(taken + 0.1)
    assert sim.state == sv.RUNNING
    snap = sim.ex.snapshot()
    assert snap.instruction_id == 'ins-1' and snap.trigger_counts['instruction'] == 1
    assert snap.trigger_counts['queue_low'] >= 1   # refilled before running dry
    assert snap.latency_last_ms == pytest.approx(130.0)
    assert sim.chunks[0][1].job.instruction_id == 'ins-1'


def test_refills_blend_into_the_running_queue_without_gaps():
    sim = Sim(latency=0.05)
    sim.instruct()
    sim.run(sim.t + 3.0)
    ticks = [t for t, c in sim.commands]
    assert np.allclose(np.diff(ticks), 0.1)             # one command per control period
    xs = np.array([c[0] for c in sim.moving()])
    # the scripted chunk's linear_x grows with the step index: a queue that stays aligned
    # keeps executing steps 1.. of each new chunk, never restarting at step 0 mid-run
    assert xs[0] == 0.0 and np.all(xs[5:] > 0.0)
    assert sim.ex.snapshot().trigger_counts['queue_low'] >= 3


# ----------------------------------------------------- event chunks act at once (issue 18)

def running(latency=0.13, **kw) -> Sim:
    sim = Sim(latency=latency, **kw)
    sim.instruct()
    sim.run(sim.t + 1.02)
    assert sim.state == sv.RUNNING and all(c[1] == VY[DARK] for c in sim.moving())
    return sim


def test_a_scene_change_chunk_replaces_the_queue_and_its_first_due_action_goes_out_at_once():
    sim = running(latency=0.13)
    sim.brightness = BRIGHT
    n, t_change = len(sim.commands), sim.t
    sim.run(t_change + 1.0)
    event = next(j for j in sim.jobs if j.decision.reason == 'scene_change')
    arrival = event.submitted + 0.13
    first = next(i for i in range(n, len(sim.commands)) if sim.commands[i][1][1] != VY[DARK])
    t_first, cmd = sim.commands[first]
    chunk = expected_chunk(BRIGHT)
    # published on arrival, not at the next tick; the robot was executing the old plan the
    # whole 0.13 s since the frame, so one step (0.1 s) is late: the first due action is [1]
    assert t_first == pytest.approx(arrival) and arrival in sim.arrivals
    np.testing.assert_array_equal(cmd, chunk[1].astype(np.float64))      # not a blend
    t_next, nxt = sim.commands[first + 1]
    # it took the next tick's place: that tick publishes nothing, the one after the next step
    assert t_next == pytest.approx(sim.tick_after(arrival) + 0.1)
    np.testing.assert_array_equal(nxt, chunk[2].astype(np.float64))
    out = next(c for t, c in sim.chunks if c.job is event)
    assert out.first_step == first - 1     # chunk[0] is for the step executed before it


def test_acting_on_arrival_keeps_the_command_rate_of_the_timer():
    sim = running(latency=0.02)
    t0 = sim.t
    for k in range(6):                               # a scene change every 0.7 s
        sim.at(t0 + 0.7 * k + 0.35, lambda k=k: setattr(sim, 'brightness',
                                                        (BRIGHT, DARK)[k % 2]))
    sim.run(t0 + 4.2)
    times = [t for t, c in sim.commands if t >= t0]
    events = [t for t in sim.arrivals if t >= t0]
    ticks = [t for t in sim.ticks if t >= t0]
    assert len(events) == 6
    # every arrival took a tick's place: exactly one command per timer period, no more
    assert len(times) == len(ticks)
    # each arrival is followed by a silent tick; the robot holds its action 1-2 periods
    for t in events:
        assert not [c for c in times if t < c <= sim.tick_after(t) + 1e-9]
    gaps = np.diff(times)
    assert np.all(gaps <= 0.2 + 1e-9) and np.any(gaps > 0.1 + 1e-6)


def test_a_burst_of_events_acts_at_most_once_per_tick_and_keeps_the_rate():
    sim = running(latency=0.005)
    t0 = sim.t
    flip = [DARK]

    def toggle():
        flip[0] = BRIGHT if flip[0] == DARK else DARK
        sim.brightness = flip[0]
        sim.at(sim.t + 1 / 30, toggle, 1)
    sim.at(t0 + 0.001, toggle, 1)                   # every frame is a new scene
    sim.run(t0 + 3.0)
    ticks = [t for t in sim.ticks if t >= t0]
    acted = [t for t in sim.arrivals if t >= t0]
    assert acted and all(len([a for a in acted if t < a <= t + 0.1]) <= 1 for t in ticks)
    assert len([t for t, c in sim.commands if t >= t0]) <= len(ticks) + 1
    assert sim.ex.snapshot().trigger_counts['scene_change'] >= 60   # all of them inferred


def test_an_instruction_acts_at_once_even_when_the_next_tick_is_taken():
    sim = running(latency=lambda job: 0.001 if job.instruction_id == 'ins-2' else 0.01)
    n = len(sim.arrivals)
    sim.brightness = BRIGHT
    while len(sim.arrivals) == n:
        sim.run(sim.t + 0.001)
    t_event = sim.arrivals[-1]                        # the scene-change chunk took a tick
    sim.instruct('ins-2', 'go right')
    t_ins = sim.t
    sim.run(t_ins + 0.0015)
    assert sim.arrivals[-1] == pytest.approx(t_ins + 0.001)
    assert not [t for t in sim.ticks if t > t_event]  # the taken tick has not come yet
    assert sim.results()[-1][:2] == ('ins-1', 'preempted')


def test_timer_jitter_does_not_hide_the_time_the_robot_was_executing():
    # Ticks late by 0 or 6 ms in turn (a loaded executor): the robot never stopped executing,
    # so a scene-change chunk arriving 0.13 s after its frame still has one late step.
    sim = running(latency=0.13, tick_jitter=lambda k: 0.006 * (k % 2))
    assert np.ptp(np.diff(sim.ticks)) > 0.01
    sim.brightness = BRIGHT
    n = len(sim.commands)
    sim.run(sim.t + 1.0)
    cmd = next(c for t, c in sim.commands[n:] if c[1] != VY[DARK])
    np.testing.assert_array_equal(cmd, expected_chunk(BRIGHT)[1].astype(np.float64))


def test_refills_still_blend_into_the_running_queue():
    sim = running(latency=0.05, trigger=TriggerConfig(scene_threshold=0.0, keepalive_period=0))
    sim.brightness = BRIGHT                           # no scene trigger: only refills see it
    t_change = sim.t
    sim.run(t_change + 1.0)
    vys = sorted({round(c[1], 6) for c in sim.moving(t_change)})
    assert any(VY[DARK] < v < VY[BRIGHT] for v in vys)   # the cross-fade
    assert not [t for t in sim.arrivals if t > t_change]


def test_latency_compensation_counts_only_time_spent_executing():
    # A slow model: the scene-change chunk comes back 2 s after its frame, but the queue ran
    # dry after its last actions and the robot held still: only those steps are late.
    sim = running(latency=lambda job: 2.0 if job.decision.reason == 'scene_change' else 0.02,
                  trigger=TriggerConfig(queue_threshold=0, keepalive_period=0.0))
    sim.run(sim.t + 0.3)
    queued = len(sim.ex.queue)
    assert 0 < queued < 10                      # the robot runs out of plan before the chunk
    sim.brightness = BRIGHT
    t_change = sim.t
    sim.run(t_change + 2.2)
    cmd = next(c for t, c in sim.commands if t > t_change and c is not None
               and c[1] == VY[BRIGHT])
    late = int(round(cmd[0] / 0.05))
    assert queued <= late <= queued + 1 and late < 10


# -------------------------------------------------------------------------------- races

def test_a_result_for_an_old_instruction_arriving_after_a_new_one_is_discarded():
    sim = Sim(latency=lambda job: 0.4 if job.instruction_id == 'old' else 0.05)
    sim.instruct('old', 'go right')
    t_new = sim.t + 0.1
    sim.run(t_new)
    sim.instruct('new', 'go left')                  # while the old inference still runs
    assert len(sim.jobs) == 1                       # one job at a time: the new one waits
    sim.run(t_new + 1.0)
    assert sim.ex.counters['results_discarded'] == 1
    assert [c.job.instruction_id for _, c in sim.chunks] == ['new'] * len(sim.chunks)
    assert sim.jobs[1].instruction_id == 'new' and sim.jobs[1].reset
    assert sim.jobs[1].decision.reason == 'instruction'
    assert sim.moving() and sim.ex.snapshot().instruction_id == 'new'


def test_an_estop_during_inference_stops_at_once_and_the_late_chunk_is_not_executed():
    sim = Sim(latency=lambda job: 0.5 if job.decision.reason == 'queue_low' else 0.05)
    sim.instruct()
    while not any(j.decision.reason == 'queue_low' for j in sim.jobs):
        sim.run(sim.t + 0.1)
    t_stop = sim.t + 0.05                           # the refill is in flight
    sim.at(t_stop, lambda: sim.apply(sim.ex.on_safety('ESTOP', ['ESTOP'], sim.t)))
    sim.run(t_stop + 1.5)
    assert sim.state == sv.IDLE and 'e-stop' in sim.ex.snapshot().detail
    assert sim.stops(t_stop) == 1 and not sim.moving(t_stop)
    assert sim.ex.counters['results_discarded'] == 1    # the refill came back after the flush
    # the e-stop cancelled the instruction: resetting it does not restart motion
    assert sim.results() == [('ins-1', 'cancelled', 'e-stop engaged (ESTOP)')]
    t_release = sim.t
    sim.apply(sim.ex.on_safety('OK', [], sim.t))
    sim.run(t_release + 1.0)
    assert not sim.moving(t_release) and sim.state == sv.IDLE
    assert 'waiting for a new instruction' in sim.ex.snapshot().detail
    sim.apply(sim.ex.on_safety('ESTOP', ['ESTOP'], sim.t))
    sim.instruct('during')                          # given while the e-stop is engaged
    assert sim.results()[-1][:2] == ('during', 'refused') and 'e-stop' in sim.results()[-1][2]
    # the operator sees why, whatever the state the e-stop put the policy in
    assert 'instruction during refused: the e-stop is engaged' in sim.ex.snapshot().detail
    sim.apply(sim.ex.on_safety('OK', [], sim.t))
    sim.instruct('ins-2')
    sim.run(sim.t + 0.5)
    assert sim.moving(t_release) and sim.state == sv.RUNNING


def test_a_sensor_pause_holds_and_resumes_the_same_instruction():
    sim = running(latency=0.05)
    t_stop = sim.t
    sim.apply(sim.ex.on_safety('STOPPED', ['ODOM_TIMEOUT'], sim.t))
    sim.run(t_stop + 1.0)
    assert sim.state == sv.PAUSED and sim.stops(t_stop) == 1 and not sim.moving(t_stop)
    sim.apply(sim.ex.on_safety('OK', [], sim.t))
    t_release = sim.t
    sim.run(t_release + 1.0)
    assert sim.ex.snapshot().trigger_counts['safety_resume'] == 1
    assert sim.moving(t_release) and sim.state == sv.RUNNING and not sim.ended


def test_a_queue_underrun_waits_without_declaring_the_chunk_stale():
    sim = Sim(latency=lambda job: 0.05 if job.decision.reason == 'instruction' else 1.5)
    sim.instruct()
    sim.run(sim.t + 3.0)
    ticks = [t for t, c in sim.commands]
    gaps = np.diff(ticks)
    assert gaps.max() > 0.5                    # the queue ran dry: no commands, no stop
    assert sim.stops() == 0 and sim.state == sv.RUNNING
    # the slow chunk still executes: the steps it was computed for were never executed
    assert sim.ex.counters['results_discarded'] == 0
    assert len(sim.chunks) >= 2


def test_heartbeat_and_status_stay_due_while_inference_is_slow():
    sim = Sim(latency=3.0)
    sim.instruct()
    sim.run(sim.t + 0.01)                            # the first frame starts the inference
    beats = []
    for k in range(25):                              # the node's 10 Hz heartbeat timer
        sim.at(sim.t + 0.1 * (k + 1), lambda: beats.append(sim.ex.heartbeat()), 3)
    sim.brightness = BRIGHT                          # an event while the model is busy
    sim.run(sim.t + 2.5)
    assert all(beats) and len(beats) == 25
    assert len(sim.jobs) == 1 and sim.ex.busy        # nothing else started meanwhile
    assert 'scene_change' in sim.ex.engine.pending   # ...and nothing was lost
    sim.run(sim.t + 1.0)
    assert sim.jobs[1].decision.reason == 'scene_change'


# ------------------------------------------------------------------------- bad inputs

def test_a_stale_camera_pauses_with_one_stop_and_recovers():
    sim = Sim()
    sim.instruct()
    sim.run(sim.t + 1.0)
    t_off = sim.t
    sim.camera_on = False
    sim.run(t_off + 1.5)
    assert sim.state == sv.PAUSED and 'stale' in sim.ex.verdict.reason
    assert sim.stops(t_off) == 1
    assert len(sim.moving(t_off)) <= 6               # until the 0.5 s image timeout
    sim.camera_on = True
    sim.run(sim.t + 1.0)
    assert sim.state == sv.RUNNING and sim.moving(t_off + 1.5)


def test_image_errors_and_out_of_order_stamps():
    sim = Sim()
    ex = sim.ex
    out = ex.on_image(frame(0.5), 0, sim.t)          # no stamp: receive time, warned once
    assert any('no stamp' in log.text for log in out.logs)
    assert not ex.on_image(frame(0.5), 0, sim.t).logs
    ex.on_image(frame(0.5), int(sim.t * 1e9), sim.t)
    out = ex.on_image(frame(0.5), int((sim.t - 1.0) * 1e9), sim.t)
    assert 'out-of-order' in ex.image_error and out.status
    out = ex.reject_image('bad camera image: encoding', sim.t)
    assert out.logs and not ex.reject_image('bad camera image: encoding', sim.t + 1).logs
    assert ex.verdict.state == sv.ERROR and 'encoding' in ex.verdict.reason
    sim.instruct()
    assert ex.verdict.state == sv.ERROR and not sim.jobs
    ex.on_image(frame(0.5), int(sim.t * 1e9), sim.t)  # a good frame clears it
    assert ex.image_error == '' and ex.counters['images_rejected'] == 3


def test_robot_state_is_checked_and_required_when_the_policy_uses_it():
    sim = Sim(policy=ScriptedPolicy(state_dim=3))
    sim.instruct()
    assert sim.state == sv.PAUSED and 'robot state' in sim.ex.verdict.reason
    t = sim.t
    out = sim.ex.on_state(np.array([np.nan, 0, 0]), int(t * 1e9), t)
    assert out.logs and sim.ex._state is None
    sim.ex.on_state(np.array([0.1, 0.0, 0.0]), int(t * 1e9), t)
    sim.ex.on_state(np.array([0.9, 0.0, 0.0]), int((t - 1) * 1e9), t)   # older: ignored
    assert sim.ex._state[0] == 0.1
    sim.run(t + 0.3)
    assert sim.jobs and sim.jobs[0].observation.state is not None
    sim.ex.on_state(np.array([0.5, 0.0, 0.0]), 0, sim.t)               # a state change
    assert 'state_change' in sim.ex.engine.pending
    sim.run(sim.t + 1.0)
    assert sim.state == sv.PAUSED and 'robot state stale' in sim.ex.verdict.reason


def test_instruction_statuses_and_latched_redelivery():
    sim = Sim()
    ex = sim.ex
    sim.instruct('a', 'go left', UNPARSED)
    generation = ex.queue.generation
    sim.instruct('a', 'go left')                      # the latched instruction again
    assert ex.queue.generation == generation and len(sim.jobs) == 1
    sim.run(sim.t + 0.5)
    sim.instruct('b', '뭐라고', NOT_UNDERSTOOD, reason='unknown target')
    # a refusal is not a fault: IDLE, with the reason; the running one was preempted
    assert ex.instruction is None and ex.verdict.state == sv.IDLE and sim.stops() == 1
    assert sim.results() == [('a', 'preempted', 'replaced by instruction b'),
                             ('b', 'refused', 'not understood: unknown target')]
    assert 'instruction b refused' in ex.snapshot().detail
    assert ex.snapshot().error == 'instruction b refused: not understood: unknown target'
    sim.instruct('c', '   ')
    sim.instruct('e', '컵까지 가지 마', REFUSED, reason='prohibition')
    sim.instruct('f', 'go', 'mystery')                # a status the node does not know
    assert [r[2] for r in sim.results()[2:]] == ['empty text', 'prohibition',
                                                 "unknown instruction status 'mystery'"]
    sim.instruct('d', '멈춰', STOP)                    # nothing running: nothing to cancel
    assert ex.verdict.state == sv.IDLE and len(sim.ended) == 5
    assert ex.queue.generation > generation
    sim.run(sim.t + 1.0)
    assert not sim.moving(sim.t - 1.0)


def test_a_stop_word_cancels_the_running_instruction():
    sim = running()
    t = sim.t
    sim.instruct('stop-1', '멈춰', STOP)
    assert sim.results() == [('ins-1', 'cancelled', "stop word (stop-1: '멈춰')")]
    assert sim.stops(t) == 1 and sim.ended[0].inference_count >= 1
    assert sim.ended[0].duration == pytest.approx(t - 10.0)
    sim.run(t + 1.0)
    assert not sim.moving(t) and sim.state == sv.IDLE


# ----------------------------------------------------------- instruction lifecycle

def test_a_restarted_policy_ignores_the_latched_instruction_it_finds():
    sim = Sim()
    # given 3 s ago, before this policy was activated (1 s ago): delivered again by latching
    sim.instruct('old', 'go left', age=3.0)
    sim.run(sim.t + 1.0)
    assert not sim.jobs and not sim.commands and sim.state == sv.IDLE
    assert sim.results()[0][:2] == ('old', 'refused')
    assert 'before this policy was activated' in sim.ex.snapshot().detail
    assert 'waiting for a new instruction' in sim.ex.snapshot().detail
    sim.instruct('old', 'go left', age=4.0)           # the same delivery again: ignored
    assert len(sim.ended) == 1
    sim.instruct('new', 'go left')
    sim.run(sim.t + 0.5)
    assert sim.moving() and sim.ex.snapshot().instruction_id == 'new'


@pytest.mark.parametrize('age, words', [(6.0, 'old (instruction_max_age 5 s)'),
                                        (-6.0, 'in the future'), (None, 'no stamp')])
def test_stale_future_and_unstamped_instructions_are_refused(age, words):
    sim = Sim(instruction_max_age=5.0)
    sim.apply(sim.ex.activate(sim.t - 8.0))           # active long enough for an old one
    if age is None:
        sim.apply(sim.ex.on_instruction(InstructionInput('x', 'go left'), sim.t))
    else:
        sim.instruct('x', age=age)
    sim.run(sim.t + 0.5)
    assert not sim.jobs and sim.results()[0][1] == 'refused' and words in sim.results()[0][2]


def test_the_activation_is_anchored_when_a_simulated_clock_starts():
    ex = Executive(ExecutiveConfig())
    ex.set_model(ModelInfo(True), 0.0)
    ex.activate(0.0)                                   # /clock not received yet
    assert ex.activation_time is None
    out = ex.on_instruction(InstructionInput('latched', 'go', stamp_ns=int(30e9)), 0.0)
    assert out.results[0].result == 'refused'          # cannot be judged: never executed
    ex.tick(31.0)                                      # the clock runs
    assert ex.activation_time == 31.0
    out = ex.on_instruction(InstructionInput('latched2', 'go', stamp_ns=int(30.5e9)), 31.2)
    assert out.results[0].result == 'refused'          # given before the policy was up
    out = ex.on_instruction(InstructionInput('fresh', 'go', stamp_ns=int(31.5e9)), 31.6)
    assert not out.results and ex.instruction.id == 'fresh'
    out = ex.tick(5.0)                                 # the simulator restarted
    assert any('jumped back' in log.text for log in out.logs)
    assert ex.activation_time == 5.0


def test_a_new_instruction_preempts_the_running_one_and_inactive_refuses():
    sim = running()
    sim.instruct('ins-2', 'go right')
    assert sim.results() == [('ins-1', 'preempted', 'replaced by instruction ins-2')]
    sim.run(sim.t + 0.5)
    assert sim.ex.snapshot().instruction_id == 'ins-2'
    out = sim.apply(sim.ex.deactivate('deactivated', sim.t))
    assert out.results[0].result == 'failed' and out.results[0].reason == 'policy deactivated'
    sim.instruct('ins-3')
    assert sim.results()[-1] == ('ins-3', 'refused', 'the policy is not active')


# ------------------------------------------------------------ the policy ends its task

GOAL = 0.95                                            # a frame this bright: "goal in view"


def test_the_policy_declares_done_stops_and_consumes_the_instruction():
    sim = running(latency=0.05, policy=ScriptedPolicy(done_brightness=0.9), done_steps=3,
                  done_threshold=0.5)
    assert not sim.ended and sim.ex.model.done_signal
    t_goal = sim.t
    sim.brightness = GOAL
    sim.run(t_goal + 1.5)
    assert sim.results() == [('ins-1', 'done',
                              'the policy declared done (3 steps at p >= 0.5)')]
    assert sim.state == sv.DONE and sim.ex.snapshot().instruction_id == ''
    assert 'task done: waiting for a new instruction' in sim.ex.snapshot().detail
    after = [(t, c) for t, c in sim.commands if t >= t_goal]
    goal_rows = [c for t, c in after if c is not None and c[1] > 0.4]
    assert len(goal_rows) == 2                         # two done steps, the third is a stop
    assert after[-1][1] is None and sim.stops(t_goal) == 1
    chunk = next(c for t, c in sim.chunks if t >= t_goal)
    np.testing.assert_allclose(chunk.done, 0.9)
    published = len(sim.commands)
    sim.run(sim.t + 2.0)                               # nothing moves it again...
    assert len(sim.commands) == published and len(sim.ended) == 1
    sim.brightness = DARK
    sim.instruct('ins-2')                              # ...except a new instruction
    sim.run(sim.t + 0.5)
    assert sim.moving(t_goal + 3.5) and sim.state == sv.RUNNING


def test_a_frame_from_before_the_instruction_cannot_end_it():
    """The last task ended at the goal; the operator gives a new instruction while the newest
    frame (the goal, seen before the instruction) is all the policy has, and the next frames
    come late (a loaded machine; a simulator that just moved the robot). That frame's chunk
    may start the motion but its done signal cannot end the new task: only a frame captured
    after the instruction can."""
    sim = running(latency=0.05, policy=ScriptedPolicy(done_brightness=0.9), done_steps=3,
                  done_threshold=0.5)
    sim.brightness = GOAL
    sim.run(sim.t + 1.5)
    assert [r[1] for r in sim.results()] == ['done']
    sim.run(sim.t + 0.02)                   # a fresh goal frame, then the camera stalls
    sim.camera_on = False
    t_ins = sim.t
    sim.instruct('ins-2')
    sim.run(t_ins + 0.4)                    # well over done_steps ticks of the goal chunk
    assert [r[1] for r in sim.results()] == ['done'], 'the old frame ended the new task'
    assert sim.state == sv.RUNNING and sim.moving(t_ins)
    assert sim.ex.counters['done_ignored_old_frame'] >= 1
    sim.brightness, sim.camera_on = DARK, True    # the new scene comes into view
    sim.run(t_ins + 1.0)
    assert len(sim.ended) == 1 and sim.state == sv.RUNNING
    assert sim.moving(t_ins + 0.5)[-1][1] == pytest.approx(VY[DARK])
    sim.brightness = GOAL                   # a frame after the instruction may end it
    sim.run(t_ins + 2.5)
    assert [r[1] for r in sim.results()] == ['done', 'done']


def test_done_needs_consecutive_steps_over_the_threshold():
    sim = running(latency=0.05, policy=ScriptedPolicy(done_brightness=0.9), done_steps=3,
                  done_threshold=0.95)                 # 0.9 < 0.95: never done
    sim.brightness = GOAL
    sim.run(sim.t + 2.0)
    assert not sim.ended and sim.state == sv.RUNNING


@pytest.mark.parametrize('max_motion, ends', [(0.3, False), (1.0, True)])
def test_done_steps_must_also_command_no_more_than_done_max_motion(max_motion, ends):
    # The goal frames' chunks move (|v| >= 0.45 m/s) while their done probability is 0.9: with
    # done_max_motion below that motion they are not done steps, so the task never ends.
    sim = running(latency=0.05, policy=ScriptedPolicy(done_brightness=0.9), done_steps=3,
                  done_threshold=0.5, done_max_motion=max_motion)
    sim.brightness = GOAL
    sim.run(sim.t + 2.0)
    assert bool(sim.ended) is ends
    assert sim.state == (sv.DONE if ends else sv.RUNNING)


def test_a_model_without_the_signal_never_ends_its_task():
    sim = running(latency=0.05)
    assert not sim.ex.model.done_signal
    sim.brightness = GOAL
    sim.run(sim.t + 2.0)
    assert not sim.ended and sim.chunks[-1][1].done is None


def test_a_canonical_policy_refuses_an_instruction_without_canonical_text():
    sim = Sim(policy=ScriptedPolicy(condition_on='canonical'))
    sim.instruct('a', '왼쪽으로 가')
    assert 'no canonical text' in sim.ex.snapshot().detail and not sim.jobs
    sim.instruct('b', '왼쪽으로 가', canonical='go left')
    sim.run(sim.t + 0.5)
    assert sim.policy.texts == ['go left'] and sim.moving()


def test_a_failed_inference_is_an_error_retried_after_the_backoff():
    policy = ScriptedPolicy(nan=True)
    sim = Sim(policy=policy, trigger=TriggerConfig(error_backoff=1.0, keepalive_period=0.0))
    sim.instruct()
    sim.run(sim.t + 0.5)
    assert sim.state == sv.ERROR and 'NaN' in sim.ex.verdict.reason
    assert not sim.moving() and len(sim.jobs) == 1
    assert sum(1 for level, _ in sim.logs if level == 'error') >= 1
    policy.nan = False
    sim.run(sim.t + 1.0)
    assert len(sim.jobs) == 2 and sim.state == sv.RUNNING and sim.moving()
    assert sim.ex.engine.stats.failures == 1


def test_other_inference_errors_name_their_cause():
    sim = Sim()
    sim.instruct()
    job = sim.jobs[0]
    sim.apply(sim.ex.on_result(job, InferenceResult(error=ObservationError('tiny')), sim.t))
    assert 'unusable input: tiny' in sim.ex.verdict.reason
    sim.ex.engine.on_failure(sim.t - 10)              # no back-off left
    sim.apply(sim.ex.tick(sim.t))
    job = sim.jobs[-1]
    sim.apply(sim.ex.on_result(job, InferenceResult(error=RuntimeError('cuda')), sim.t))
    assert 'inference failed: RuntimeError: cuda' in sim.ex.verdict.reason
    assert 'model unloaded' in str(run_job(None, job).error)


def test_a_chunk_the_queue_cannot_take_is_counted_and_logged():
    sim = Sim()
    sim.instruct()
    job = sim.jobs[0]
    out = sim.apply(sim.ex.on_result(job, InferenceResult(np.zeros((0, 3))), sim.t))
    assert sim.ex.counters['results_discarded'] == 1
    assert any('not queued' in log.text for log in out.logs)


# ------------------------------------------------------------------- lifecycle, options

def test_deactivate_stops_first_and_a_reactivated_policy_waits_for_a_new_instruction():
    sim = Sim()
    sim.instruct()
    sim.run(sim.t + 1.0)
    out = sim.apply(sim.ex.deactivate('deactivated', sim.t))
    assert out.commands == [None] and not sim.ex.active
    assert sim.ex.verdict.state == sv.IDLE and not sim.ex.heartbeat()
    assert sim.apply(sim.ex.deactivate('again', sim.t)).commands == []
    jobs = len(sim.jobs)
    sim.apply(sim.ex.activate(sim.t))
    sim.run(sim.t + 1.0)
    assert len(sim.jobs) == jobs and sim.state == sv.IDLE
    sim.apply(sim.ex.job_dropped(sim.t))
    assert not sim.ex.busy


def test_model_load_failure_and_unload():
    ex = Executive(ExecutiveConfig())
    ex.set_model(ModelInfo(error='cannot load model'), 0.0)
    assert ex.verdict.state == sv.ERROR and ex.snapshot().error == 'cannot load model'
    ex.set_model(ModelInfo(), 0.0)
    assert ex.verdict.state == sv.UNCONFIGURED


def test_history_observations_between_inferences():
    sim = Sim(history_rate=10.0, trigger=TriggerConfig(queue_threshold=0, keepalive_period=0))
    sim.instruct()
    sim.run(sim.t + 1.0)
    kinds = [j.kind for j in sim.jobs]
    assert kinds[0] == 'infer' and kinds.count(OBSERVE) >= 5
    assert sim.ex.counters['history_observations'] == kinds.count(OBSERVE)
    job = next(j for j in sim.jobs if j.kind == OBSERVE)
    out = sim.ex.on_result(job, InferenceResult(error=ValueError('bad')), sim.t)
    assert any('history observation failed' in log.text for log in out.logs)


def test_periodic_baseline_and_reconfigure():
    sim = Sim(trigger=TriggerConfig(mode='periodic', periodic_rate=5.0))
    sim.instruct()
    sim.run(sim.t + 2.0)
    fired = sim.ex.snapshot().trigger_counts
    assert fired['instruction'] == 1 and 8 <= fired['periodic'] <= 11
    cfg = ExecutiveConfig(trigger=TriggerConfig(queue_threshold=5), chunk_blend='temporal',
                          temporal_decay=0.5)
    sim.ex.reconfigure(cfg)
    assert sim.ex.engine.config.queue_threshold == 5 and sim.ex.queue.blend == 'temporal'
    values = sim.ex.diagnostic_values(sim.t)
    assert values['trigger_mode'] == 'event' and values['triggers_periodic'] == fired['periodic']
    assert float(values['image_age_s']) < 0.1


@pytest.mark.parametrize('kw', [{'control_rate': 0.0}, {'image_timeout': -1.0},
                                {'history_rate': -1.0}, {'chunk_blend': 'cubic'}])
def test_config_validation(kw):
    with pytest.raises(ValueError):
        ExecutiveConfig(**kw)


# ----------------------------------------------------------------- the lockstep loop

def test_lockstep_runs_the_same_executive_with_synchronous_inference():
    policy = ScriptedPolicy()
    loop = Lockstep(policy, ExecutiveConfig(trigger=TriggerConfig(keepalive_period=0.0)))
    assert loop.step(frame(BRIGHT)) is None          # no instruction: nothing
    loop.instruct('go left')
    commands = [loop.step(frame(BRIGHT)) for _ in range(12)]
    chunk = expected_chunk(BRIGHT)
    # the chunk is computed from the frame of the same period and executed from step 0
    np.testing.assert_allclose(commands[0], chunk[0], atol=1e-6)
    np.testing.assert_allclose(commands[1], chunk[1], atol=1e-6)
    assert loop.executive.counters['inferences'] >= 2 and policy.resets >= 1
    assert loop.executive.on_safety('ESTOP', ['ESTOP'], loop.now).commands == [None]
    assert loop.step(frame(BRIGHT)) is None          # paused: nothing more
    assert loop.period == pytest.approx(0.1)
