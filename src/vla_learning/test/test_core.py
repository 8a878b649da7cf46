"""Pure tests of the learning loop's planning, splits and window dataset (no ROS, no sim)."""

import numpy as np
import pytest

from vla_common.scenarios import SCENARIOS
from mobile_base.sim.scene import TRAINING
from vla_learning.collect import collect_stack, plan_episodes
from vla_learning.common import (COLLECT_SEED_BASE, EVAL_SEED_BASE, paraphrase_split,
                                 REGRESSION_SEEDS, TRAINING_RANDOMIZATION)
from vla_learning.convert import done_labels, split_episodes
from vla_learning.data import canonical_text, Episode, WindowDataset
from vla_learning.evaluate import eval_params_file, plan as eval_plan, wilson


def test_collection_plan_is_bounded_deterministic_and_side_paired():
    plans = plan_episodes()
    assert len(plans) == 72 and len({p.name for p in plans}) == 72
    assert plans == plan_episodes()
    train, held = paraphrase_split()
    for p in plans:
        assert p.instruction in train[p.scenario]
        assert p.instruction not in held[p.scenario]
    # The same placements for the left and the right variant of each layout.
    for layout in ('1box_vert', '1box_hori', '2box_vert', '2box_hori'):
        left = {p.seed for p in plans if p.scenario == f'{layout}_left'}
        right = {p.seed for p in plans if p.scenario == f'{layout}_right'}
        assert left == right and len(left) == 9
    assert any(p.noise > 0 for p in plans) and any(p.noise == 0 for p in plans)


def test_evaluation_uses_held_out_placements_and_paraphrases(tmp_path):
    import yaml
    from mobile_base.core.scenarios import make_instance

    # Collection and evaluation draw from different placement namespaces of the simulator,
    # whatever the seed numbers (here they even coincide).
    for randomization in (*TRAINING.values(), {**TRAINING['wide'], 'perturbation': 'mixed'}):
        stack = collect_stack(randomization)
        collect = dict(stack.node('mujoco_sim').parameters)
        assert collect['placement'] == 'collect' and collect['palette'] != 'held_out'
        # The expert draws the simulator's mid-episode change, so it can react to it.
        expert = dict(stack.node('expert_node').parameters)
        assert expert['perturbation'] == collect['perturbation']
    assert TRAINING['nominal'] == TRAINING_RANDOMIZATION
    for suite in ('nominal', 'shift', 'perturbation'):
        params = yaml.safe_load(open(eval_params_file(str(tmp_path / 'p.yaml'), suite,
                                                      'event')))
        assert params['mujoco_sim']['ros__parameters']['placement'] == 'evaluate'
    plans = plan_episodes()
    ev = eval_plan(SCENARIOS, 9)
    assert {p.seed for p in plans} == {e['seed'] for e in ev}
    boxes = lambda sc, seed, where: make_instance(sc, seed, placement=where).obstacles  # noqa
    collected = {boxes(p.scenario, p.seed, 'collect') for p in plans}
    assert not collected & {boxes(e['scenario'], e['seed'], 'evaluate') for e in ev}
    _, held = paraphrase_split()
    assert all(e['instruction'] in held[e['scenario']] for e in ev)
    assert min(e['seed'] for e in ev) == EVAL_SEED_BASE and REGRESSION_SEEDS[0] == EVAL_SEED_BASE
    assert COLLECT_SEED_BASE == 0


def test_validation_split_is_by_placement():
    records = [{'name': f'{sc}_s{s}', 'seed': s, 'scenario': sc}
               for s in range(9) for sc in SCENARIOS]
    split = split_episodes(records, 0.12, seed=0)
    assert split == split_episodes(records, 0.12, seed=0)
    val = {r['seed'] for r in records if split[r['name']] == 'val'}
    assert len(val) == 1
    for r in records:
        assert (split[r['name']] == 'val') == (r['seed'] in val)


def _episode(n=30, text='박스를 왼쪽으로 돌아서 컵까지 가세요'):
    images = np.zeros((n, 16, 16, 3), np.uint8)
    images[:, :, :4] = 255            # bright stripe on the left of the image
    images[:, 0, 0, 0] = np.arange(n)  # frame id in a pixel
    actions = np.tile(np.array([0.3, 0.2, 0.5], np.float32), (n, 1))
    actions[:, 0] = np.arange(n) / 100.0
    return Episode(0, 'e', '1box_vert_left', 'train', text, images, actions,
                   np.zeros((n, 3), np.float32))


def test_windows_chunks_masks_and_strides():
    ds = WindowDataset([_episode()], window_size=3, chunk_size=5, max_stride=4)
    for k in range(len(ds)):
        s = ds[k]
        frames = s['images'][:, 0, 0, 0].astype(int)
        assert frames[-1] == k and np.all(np.diff(frames) >= 0)
        steps = np.diff(frames)
        assert np.all(steps <= 4)
        # Targets of each window step: the actions from that step on, masked past the end.
        np.testing.assert_allclose(s['actions'][:, 0, 0], frames / 100.0, atol=1e-6)
        assert s['action_mask'][-1].sum() == min(5, 30 - k)
    assert ds[0]['images'][:, 0, 0, 0].tolist() == [0, 0, 0]


def test_done_targets_of_each_chunk_step_stay_done_past_the_end():
    ep = _episode()
    ep.done = np.arange(len(ep)) >= 25                 # the expert stopped at frame 25
    ds = WindowDataset([ep], window_size=2, chunk_size=5, max_stride=1)
    s = ds[22]
    # window steps 21, 22; chunk steps 21..25 and 22..26: done from frame 25 on.
    np.testing.assert_array_equal(s['done'], [[0, 0, 0, 0, 1], [0, 0, 0, 1, 1]])
    assert s['done'].dtype == np.float32
    assert ds[len(ds) - 1]['done'].all()                # past the end the task stays done
    ep.done = None
    assert 'done' not in WindowDataset([ep], 2, 5)[3]   # an old dataset: no targets


def test_done_labels_come_from_the_experts_own_stop():
    moving = np.tile([0.2, 0.05, 0.1], (8, 1))
    stop = np.zeros((4, 3))
    done = done_labels(np.concatenate([moving, stop]).astype(np.float32))
    assert done.tolist() == [False] * 8 + [True] * 4
    # A zero component while moving is not a stop; the whole command is.
    slow = moving.copy()
    slow[3] = [0.0, 0.0, 0.1]
    assert done_labels(np.concatenate([slow, stop])).sum() == 4
    with pytest.raises(ValueError, match='never stopped'):
        done_labels(moving)
    with pytest.raises(ValueError, match='moved again'):
        done_labels(np.concatenate([moving, stop, moving, stop]))


def test_mirroring_flips_image_negates_lateral_and_swaps_words():
    ds = WindowDataset([_episode()], window_size=2, chunk_size=3, mirror_prob=1.0)
    s = ds[10]
    assert s['instruction'] == '박스를 오른쪽으로 돌아서 컵까지 가세요'
    # The canonical text follows the mirror: the sample now shows a right-hand detour.
    assert s['canonical'] == 'go around the right side of the box, then go to the cup'
    assert s['images'][0, 5, -1, 1] == 255 and s['images'][0, 5, 0, 1] == 0
    np.testing.assert_allclose(s['actions'][0, 0, 1:], [-0.2, -0.5])
    assert s['actions'][0, 0, 0] >= 0


@pytest.mark.parametrize('bad', [{'window_size': 2, 'chunk_size': 3}])
def test_empty_dataset_refused(bad):
    with pytest.raises(ValueError):
        WindowDataset([], **bad)


def test_canonical_text_is_what_the_instruction_node_publishes():
    # Three phrasings of one scenario, two of them never recorded, read the same.
    same = {canonical_text(t) for t in ('박스를 왼쪽으로 돌아서 컵까지 가세요',
                                        '박스를 왼쪽으로 우회해서 컵까지 가세요',
                                        '왼쪽으로 박스를 돌아서 컵으로 가줘')}
    assert same == {'go around the left side of the box, then go to the cup'}
    assert canonical_text('박스 2개 사이 좌측 경로로 컵까지 이동하세요') == \
        'take the left path between the two boxes, then go to the cup'


@pytest.mark.parametrize('text', ['', '안녕하세요', '박스를 왼쪽 오른쪽으로 돌아서 컵까지 가세요'])
def test_canonical_text_refuses_instructions_the_stack_would_refuse(text):
    with pytest.raises(ValueError, match='does not understand'):
        canonical_text(text)


def test_wilson_interval():
    lo, hi = wilson(61, 64)
    assert lo == pytest.approx(0.8708, abs=1e-3) and hi == pytest.approx(0.9839, abs=1e-3)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert wilson(10, 10)[0] == pytest.approx(0.7225, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)


class _Session:
    """A started stack as run_resumable sees it: runner.check() names a node that died."""

    def __init__(self, deaths, log):
        self.runner, self.deaths, self.log = self, deaths, log

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.log.append('stop')

    def start(self):
        self.log.append('start')

    def check(self):
        return self.deaths.pop(0) if self.deaths else ''


def test_evaluation_resumes_and_reruns_an_episode_whose_stack_died(tmp_path):
    from vla_learning.evaluate import load_done, run_resumable

    path, log = str(tmp_path / 'episodes.jsonl'), []
    deaths = ['', 'policy_node died', '']      # the second episode's node dies once

    def run(ep_list, restarts=3):
        return run_resumable(ep_list, path, str, lambda: _Session(deaths, log),
                             lambda s, ep: (log.append(ep), {'key': ep})[1], str,
                             restarts=restarts)

    assert run(['a', 'b', 'c']) == [{'key': 'a'}, {'key': 'b'}, {'key': 'c'}]
    assert log == ['start', 'a', 'b', 'stop', 'start', 'b', 'c', 'stop']
    log.clear()
    assert run(['a', 'c', 'd']) == [{'key': 'a'}, {'key': 'c'}, {'key': 'd'}]
    assert log == ['start', 'd', 'stop']     # done episodes come from the file
    deaths[:] = ['died'] * 2
    with pytest.raises(SystemExit, match='giving up after 1 restarts'):
        run(['e'], restarts=1)
    assert 'e' not in load_done(path)     # an episode in a dead stack is not recorded
