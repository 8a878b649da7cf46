"""Pure execution core: chunk queue, blending, triggers on scripted event sequences, states."""

import pathlib

import numpy as np
import pytest
from vla_policy_node.execution import (ActionChunkQueue, evaluate, Inputs, LatencyWindow,
                                       safety_blocks, scene_distance, scene_thumbnail,
                                       sudden_change, TriggerConfig, TriggerEngine)
from vla_policy_node.execution import supervisor as sv


def chunk(value, n=5, dims=3):
    return np.full((n, dims), float(value))


# ------------------------------------------------------------------------------ queue

def test_queue_pops_in_order_and_counts_steps():
    q = ActionChunkQueue('none')
    assert q.pop() is None and q.step == 0  # an empty queue does not advance
    r = q.push(np.arange(15.0).reshape(5, 3), start_step=0, generation=0)
    assert r.accepted and r.appended == 5
    assert q.pop()[0] == 0.0 and q.pop()[0] == 3.0
    assert q.step == 2 and len(q) == 3 and q.steps() == [2, 3, 4]


def test_late_chunk_skips_the_steps_already_executed():
    q = ActionChunkQueue('none')
    q.push(chunk(1), 0, 0)
    obs_step = q.step  # the observation is taken now (step 0)...
    q.pop()
    q.pop()            # ...and two actions run while the model thinks
    r = q.push(np.arange(5.0)[:, None] * np.ones(3), obs_step, 0)
    assert r.skipped_stale == 2 and r.blended == 3 and r.appended == 0
    np.testing.assert_array_equal(q.peek()[:, 0], [2.0, 3.0, 4.0])


def test_entirely_stale_chunk_is_rejected_not_executed():
    q = ActionChunkQueue()
    q.push(chunk(1, n=8), 0, 0)
    for _ in range(6):
        q.pop()
    r = q.push(chunk(2), 0, 0)
    assert not r.accepted and 'stale' in r.reason and q.rejected == 1


def test_linear_blend_cross_fades_from_old_to_new():
    q = ActionChunkQueue('linear')
    q.push(chunk(0.0, n=4), 0, 0)
    r = q.push(chunk(1.0, n=6), 0, 0)
    assert (r.blended, r.appended) == (4, 2)
    got = q.peek()[:, 0]
    np.testing.assert_allclose(got, [0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    assert np.all(np.diff(got) >= 0)  # monotone hand-over, no jump


def test_temporal_ensembling_weights_older_predictions():
    q = ActionChunkQueue('temporal', temporal_decay=0.5)
    q.push(chunk(0.0, n=3), 0, 0)
    q.push(chunk(1.0, n=3), 0, 0)
    w1 = np.exp(-0.5)
    np.testing.assert_allclose(q.peek()[:, 0], w1 / (1 + w1))
    q.push(chunk(1.0, n=3), 0, 0)
    w2 = np.exp(-1.0)
    np.testing.assert_allclose(q.peek()[:, 0], (w1 + w2) / (1 + w1 + w2))


def test_flush_starts_a_new_generation_and_rejects_old_chunks():
    q = ActionChunkQueue()
    q.push(chunk(1), 0, q.generation)
    in_flight_generation = q.generation
    assert q.flush() == 5 and len(q) == 0 and q.step == 0
    r = q.push(chunk(2), 0, in_flight_generation)   # computed for the old instruction
    assert not r.accepted and 'generation' in r.reason
    assert q.push(chunk(3), 0, q.generation).accepted
    assert q.pop()[0] == 3.0


@pytest.mark.parametrize('bad, match', [
    (np.full((5, 3), np.nan), 'NaN'),
    (np.zeros((0, 3)), 'shape'),
    (np.zeros(3), 'shape'),
])
def test_bad_chunks_are_rejected(bad, match):
    q = ActionChunkQueue()
    r = q.push(bad, 0, 0)
    assert not r.accepted and match in r.reason and len(q) == 0


def test_dimension_mismatch_and_future_chunks():
    q = ActionChunkQueue()
    q.push(chunk(1), 0, 0)
    assert 'dims' in q.push(chunk(1, dims=7), 0, 0).reason
    assert 'after the current' in q.push(chunk(1), 3, 0).reason
    with pytest.raises(ValueError):
        ActionChunkQueue('cubic')


# --------------------------------------------------------------------------- triggers

def engine(**kw):
    return TriggerEngine(TriggerConfig(**kw))


def test_scripted_event_run():
    """A scripted run: instruction, refills, scene change, state change, e-stop, keep-alive."""
    e = engine(queue_threshold=3, scene_threshold=0.1, state_threshold=0.2,
               keepalive_period=2.0)
    grey = np.full((24, 32), 0.5, np.float32)
    # nothing happens without an instruction being pending and inputs ready
    assert e.poll(0.0, ready=False, busy=False, queue_depth=0) is None
    e.on_instruction(0.0, 'ins-1')
    assert e.poll(0.0, ready=False, busy=False, queue_depth=0) is None  # still pending
    d = e.poll(0.1, True, False, 0, scene=grey, state=np.zeros(3))
    assert d.reason == 'instruction'
    # the queue was refilled (10 actions): no reason to infer
    assert e.poll(0.2, True, False, 10) is None
    # the queue drains to the threshold: refill
    assert e.poll(0.8, True, False, 3).reason == 'queue_low'
    # a different scene while an inference runs waits, then wins over queue_low
    e.on_scene(grey + 0.3, 0.9)
    assert e.poll(0.9, True, True, 2) is None
    d = e.poll(1.0, True, False, 2, scene=grey + 0.3)
    assert d.reason == 'scene_change' and d.coalesced == ('queue_low',)
    # small scene noise is not an event
    e.on_scene(grey + 0.32, 1.1)
    assert e.poll(1.1, True, False, 8) is None
    # the robot is pushed: state change
    e.on_state(np.array([0.0, 0.5, 0.0]), 1.2)
    assert e.poll(1.2, True, False, 8).reason == 'state_change'
    # e-stop, then release: safety_resume
    e.on_safety(True, 1.5)
    assert e.poll(1.6, False, False, 0) is None
    e.on_safety(False, 3.0)
    d = e.poll(3.0, True, False, 0)
    assert d.reason == 'safety_resume' and 'queue_low' in d.coalesced
    # long quiet period with a full queue: keep-alive
    assert e.poll(4.0, True, False, 8) is None
    assert e.poll(5.1, True, False, 8).reason == 'keepalive'
    fired = e.stats.fired
    assert (fired['instruction'], fired['queue_low'], fired['scene_change'],
            fired['state_change'], fired['safety_resume'], fired['keepalive']) == \
        (1, 1, 1, 1, 1, 1)
    # queue_low was also due at the instruction (empty queue), the scene change and the resume
    assert e.stats.coalesced['queue_low'] == 3
    assert e.stats.total == 6


def _textured(seed=0, shape=(24, 32)):
    # A smooth random picture (a blurred noise field): stands in for a camera thumbnail.
    rng = np.random.default_rng(seed)
    big = rng.random((shape[0] + 8, shape[1] + 8)).astype(np.float32)
    k = np.ones(3, np.float32) / 3
    big = np.apply_along_axis(lambda r: np.convolve(r, k, 'same'), 1, big)
    return np.apply_along_axis(lambda c: np.convolve(c, k, 'same'), 0, big)


def test_sudden_change_ignores_the_whole_picture_moving_and_sees_one_part_change():
    world = _textured()
    frame = world[4:28, 4:36]
    panned = world[4:28, 6:38]           # the robot turned: everything moved 2 px
    assert scene_distance(frame, panned) > 0.05
    assert sudden_change(frame, panned) < 0.01
    moved = frame.copy()
    moved[8:16, 12:18] = 0.95            # one object appeared / moved: one part changed
    assert scene_distance(frame, moved) < 0.05 < sudden_change(frame, moved)
    assert sudden_change(None, frame) == 0.0 == sudden_change(frame, frame[:10])


def test_a_local_change_fires_scene_change_below_the_whole_image_threshold():
    e = engine(scene_threshold=0.08, scene_local_threshold=0.04, queue_threshold=0)
    frame = _textured(1)[4:28, 4:36]
    e.on_instruction(0.0)
    assert e.poll(0.0, True, False, 0, scene=frame).reason == 'instruction'
    e.on_scene(frame + 0.003, 0.1)                     # sensor noise: nothing
    assert e.poll(0.1, True, False, 8) is None
    moved = frame.copy()
    moved[8:16, 12:18] = 0.95
    assert e.on_scene(moved, 0.2) < 0.08               # the whole image barely changed...
    d = e.poll(0.2, True, False, 8)
    assert d.reason == 'scene_change' and 'part of the image' in d.detail
    assert e.last_scene_change > 0.04
    # off (0), the same change does not fire
    off = engine(scene_threshold=0.08, scene_local_threshold=0.0, queue_threshold=0)
    off.on_instruction(0.0)
    off.poll(0.0, True, False, 0, scene=frame)
    off.on_scene(frame, 0.1)
    off.on_scene(moved, 0.2)
    assert off.poll(0.2, True, False, 8) is None


def test_new_instruction_supersedes_pending_events():
    e = engine()
    e.on_instruction(0.0, 'a')
    e.poll(0.0, True, False, 0, scene=np.zeros((24, 32), np.float32))
    e.on_scene(np.ones((24, 32), np.float32), 0.1)
    e.on_instruction(0.2, 'b')
    d = e.poll(0.3, True, False, 0)
    assert d.reason == 'instruction' and 'scene_change' not in d.coalesced
    assert e.stats.coalesced['scene_change'] == 1  # accounted for, not silently lost


def test_failure_backoff_and_min_interval():
    e = engine(error_backoff=1.0, min_interval=0.5, keepalive_period=0.0)
    e.on_instruction(0.0)
    assert e.poll(0.0, True, False, 0).reason == 'instruction'
    e.on_failure(0.1)
    assert e.poll(0.6, True, False, 0) is None       # backing off
    assert e.poll(1.2, True, False, 0).reason == 'queue_low'
    assert e.poll(1.4, True, False, 0) is None       # min_interval
    assert e.poll(1.8, True, False, 0).reason == 'queue_low'
    assert e.stats.failures == 1


def test_periodic_baseline_ignores_events_and_runs_on_the_clock():
    e = engine(mode='periodic', periodic_rate=10.0)
    e.on_instruction(0.0)
    times = np.arange(0.0, 1.0, 0.02)
    reasons = [d.reason for t in times if (d := e.poll(float(t), True, False, 10))]
    assert reasons[0] == 'instruction' and set(reasons[1:]) == {'periodic'}
    assert 9 <= len(reasons) <= 11
    e.on_scene(np.ones((24, 32), np.float32), 1.0)   # no scene trigger in periodic mode
    assert 'scene_change' not in e.pending


def test_event_mode_needs_far_fewer_inferences_than_periodic():
    """Steady driving at 10 Hz with chunk 10: event triggers refill, periodic recomputes."""
    results = {}
    for mode in ('event', 'periodic'):
        e = engine(mode=mode, periodic_rate=10.0, queue_threshold=3)
        q = ActionChunkQueue()
        e.on_instruction(0.0)
        for tick in range(600):   # one minute at 10 Hz
            now = tick * 0.1
            d = e.poll(now, True, False, len(q))
            if d is not None:
                if mode == 'periodic':
                    q.flush()
                q.push(chunk(0.1, n=10), q.step, q.generation)
            q.pop()
        results[mode] = e.stats.total
    assert results['periodic'] >= 590
    assert results['event'] <= 100


@pytest.mark.parametrize('kwargs', [{'mode': 'sometimes'}, {'periodic_rate': 0.0},
                                    {'queue_threshold': -1}, {'scene_threshold': -0.1}])
def test_trigger_config_validation(kwargs):
    with pytest.raises(ValueError):
        TriggerConfig(**kwargs)


def test_scene_thumbnail_and_distance():
    ramp = np.linspace(0, 255, 640)[None, :, None] * np.ones((480, 1, 3))
    a = ramp.astype(np.uint8)
    ta = scene_thumbnail(a)
    assert ta.shape == (24, 32) and 0.0 <= ta.min() and ta.max() <= 1.0
    assert scene_distance(ta, ta) == 0.0
    assert scene_distance(ta, scene_thumbnail(255 - a)) > 0.1
    assert scene_distance(ta, None) == 0.0


# -------------------------------------------------------------------------- supervisor

def ready_inputs(**kw):
    base = dict(active=True, model_loaded=True, instruction_id='ins-1', image_age=0.1)
    base.update(kw)
    return Inputs(**base)


@pytest.mark.parametrize('kw, state, words', [
    ({}, sv.RUNNING, ''),
    ({'model_loaded': False}, sv.UNCONFIGURED, 'no model'),
    ({'model_loaded': False, 'model_error': 'model_path is empty'}, sv.ERROR, 'model_path'),
    ({'active': False}, sv.IDLE, 'inactive'),
    ({'instruction_id': ''}, sv.IDLE, 'instruction'),
    ({'instruction_id': '', 'task_done': True}, sv.DONE, 'task done'),
    ({'image_age': None}, sv.PAUSED, 'no camera'),
    ({'image_age': 2.0}, sv.PAUSED, 'stale'),
    ({'image_error': 'bad encoding'}, sv.ERROR, 'encoding'),
    ({'inference_error': 'NaN'}, sv.ERROR, 'NaN'),
    ({'state_required': True}, sv.PAUSED, 'robot state'),
    ({'state_required': True, 'state_age': 3.0}, sv.PAUSED, 'stale'),
    ({'state_required': True, 'state_age': 0.1}, sv.RUNNING, ''),
    ({'safety_blocked': True, 'safety_reason': 'e-stop'}, sv.PAUSED, 'e-stop'),
])
def test_verdicts(kw, state, words):
    v = evaluate(ready_inputs(**kw))
    assert v.state == state and words in v.reason
    assert v.may_command == (state == sv.RUNNING)
    assert v.healthy == (state in (sv.IDLE, sv.RUNNING, sv.PAUSED, sv.DONE))


def test_failed_inference_is_retried_only_when_inputs_are_fine():
    v = evaluate(ready_inputs(inference_error='NaN'))
    assert v.state == sv.ERROR and v.may_infer and not v.may_command
    v = evaluate(ready_inputs(inference_error='NaN', image_age=5.0))
    assert v.state == sv.ERROR and not v.may_infer


def test_stale_reason_changes_but_key_does_not():
    a, b = evaluate(ready_inputs(image_age=1.0)), evaluate(ready_inputs(image_age=2.0))
    assert a.reason != b.reason and a.key == b.key


def test_safety_gate_states():
    assert safety_blocks('ESTOP', [])[0]
    assert safety_blocks('STOPPED', ['ODOM_TIMEOUT'])[0]
    # the gate stops because the policy is quiet: pausing would deadlock
    assert not safety_blocks('STOPPED', ['NO_COMMAND'])[0]
    assert not safety_blocks('STOPPED', ['COMMAND_TIMEOUT', 'HEARTBEAT_LOST'])[0]
    assert not safety_blocks('LIMITED', ['VELOCITY_LIMITED'])[0]
    assert safety_blocks('STOPPED', ['OBSTACLE_STOP'], ('OBSTACLE_STOP',))[0]


def test_latency_window():
    w = LatencyWindow(size=100)
    for v in range(1, 201):
        w.add(float(v))
    assert len(w) == 100 and w.last == 200.0
    assert w.percentile(50) == pytest.approx(150.5) and w.percentile(95) > 190


def test_core_modules_import_no_ros():
    from vla_testing.lint import forbidden_imports

    pkg = pathlib.Path(__file__).resolve().parents[1] / 'vla_policy_node'
    files = list((pkg / 'policies').rglob('*.py')) + list((pkg / 'execution').rglob('*.py'))
    assert files and not forbidden_imports(files)
