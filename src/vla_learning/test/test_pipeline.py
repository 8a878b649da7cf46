"""End to end through the real stack: collect two short episodes (expert over DDS, rosbag2),
convert them, train a few steps (loss decreases), save/load round trip, resume, evaluate one
episode through the mobile stack with the policy node; plus the Kosmos-2 variant for a few
steps with a tiny configuration (frozen backbone, trainable head)."""

import json
import os

import numpy as np
import pytest

from vla_learning.collect import EpisodePlan, run_collection
from vla_learning.common import TRAINING_RANDOMIZATION
from vla_learning.convert import convert
from vla_learning.data import canonical_text
from vla_learning.train import TrainConfig, train

pytestmark = [pytest.mark.stack, pytest.mark.slow]

TEXT_L = '박스를 왼쪽으로 돌아서 컵까지 가세요'
TEXT_R = '박스를 오른쪽으로 돌아서 컵까지 가세요'


@pytest.fixture(scope='module')
def demos(ros_domain, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('demos'))
    plans = [EpisodePlan('1box_vert_left', 9000, TEXT_L, 0.0),
             EpisodePlan('1box_vert_right', 9000, TEXT_R, 0.0)]
    records = run_collection(out, plans, TRAINING_RANDOMIZATION, progress=False)
    return out, records, plans


@pytest.fixture(scope='module')
def dataset(demos, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('dataset'))
    info = convert(demos[0], out, image_size=32, val_fraction=0.0, progress=False)
    return out, info


def test_collect_records_expert_episodes_in_bags(demos):
    from vla_bringup.bags import bag_topics

    out, records, plans = demos
    assert [r['name'] for r in records] == [p.name for p in plans]
    for r in records:
        assert r['success'] and r['ended_by'] == 'policy' and r['side_correct'], r
        assert abs(r['final_error']) < 0.05, r          # the expert stops at the goal
        topics = bag_topics(os.path.join(out, r['name'], 'bag'))
        for t in ('/camera/image_raw', '/cmd_vel_in', '/cmd_vel', '/instruction_text',
                  '/ground_truth/odom', '/episode_result', '/odom'):
            assert topics.get(t, ('', 0))[1] > 0, t
    # Resumable: nothing is re-run.
    again = run_collection(out, plans, TRAINING_RANDOMIZATION, progress=False)
    assert [r['wall_time'] for r in again] == [r['wall_time'] for r in records]


def test_convert_writes_lerobot_style_parquet(dataset):
    from datasets import load_dataset

    out, info = dataset
    assert info['total_episodes'] == 2 and info['total_frames'] > 150
    files = sorted(os.path.join(out, 'data', 'chunk-000', f) for f in
                   os.listdir(os.path.join(out, 'data', 'chunk-000')) if f.endswith('.parquet'))
    ds = load_dataset('parquet', data_files=files, split='train')
    for col in ('observation.image', 'observation.state', 'action', 'action.done',
                'episode_index', 'frame_index', 'timestamp', 'task', 'next.done'):
        assert col in ds.column_names
    # Each demonstration ends in the expert's stop, held (>= 1 s at 10 fps): done frames
    # command zero, the frames before them move.
    for ep in range(2):
        rows = ds.filter(lambda r, e=ep: r['episode_index'] == e)
        done = np.array(rows['action.done'])
        first = int(np.argmax(done))
        assert done[first:].all() and done.sum() >= 10
        assert np.all(np.array(rows['action'])[done] == 0.0)
        assert np.all(np.abs(np.array(rows['action'])[:first]).sum(axis=1) > 0.0)
    row = ds[0]
    assert row['observation.image'].size == (32, 32)
    assert row['task'] in (TEXT_L, TEXT_R)
    acts = np.array(ds['action'])
    # The expert strafes left first in the left variant, right in the right variant.
    left = np.array(ds.filter(lambda r: r['task'] == TEXT_L)['action'])
    right = np.array(ds.filter(lambda r: r['task'] == TEXT_R)['action'])
    assert left[:10, 1].mean() > 0.05 > -0.05 > right[:10, 1].mean()
    assert np.abs(acts).max() <= 0.65
    with open(os.path.join(out, 'meta', 'stats.json'), encoding='utf-8') as f:
        stats = json.load(f)
    assert stats['normalizer']['action_space'] == 'base'


def _tiny(out, dataset_dir, **kw):
    base = dict(dataset=dataset_dir, out=out,
                backbone={'type': 'nano', 'image_size': 32, 'channels': [16, 32],
                          'text_dim': 32, 'text_layers': 1, 'spatial_channels': 8},
                head={'type': 'lstm', 'hidden_size': 64, 'num_layers': 1}, window_size=2,
                max_stride=3, epochs=2, batch_size=8, lr=3e-3, warmup_steps=5, seed=1)
    base.update(kw)
    return TrainConfig(**base)


def test_train_loss_decreases_save_load_resume(dataset, tmp_path):
    from vla_policy_node.policies import Observation, RoboVLMsPolicy

    out = str(tmp_path / 'model')
    summary = train(_tiny(out, dataset[0]), progress=False, log=lambda *_: None)
    with open(os.path.join(out, 'last', 'training_state.pt'), 'rb'):
        pass
    import torch
    hist = torch.load(os.path.join(out, 'last', 'training_state.pt'),
                      weights_only=False)['history']['train_loss']
    assert np.mean(hist[-5:]) < 0.7 * np.mean(hist[:5])
    for f in ('config.json', 'model.safetensors', 'normalization.json',
              'tokenizer/vocab.json', 'loss_curves.png'):
        assert os.path.isfile(os.path.join(out, f)), f
    # Round trip: the loaded policy predicts exactly what a re-saved copy predicts.
    p1 = RoboVLMsPolicy.from_pretrained(out)
    p1.save_pretrained(str(tmp_path / 'copy'))
    p2 = RoboVLMsPolicy.from_pretrained(str(tmp_path / 'copy'))
    img = np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    # Trained on the normaliser's text by default: the policy reads `canonical`, as the policy
    # node passes it from the Instruction message.
    assert p1.config.condition_on == p2.config.condition_on == 'canonical'
    a1 = p1.predict_action_chunk(Observation(img, TEXT_L, canonical_text(TEXT_L)))
    a2 = p2.predict_action_chunk(Observation(img, TEXT_L, canonical_text(TEXT_L)))
    np.testing.assert_array_equal(a1, a2)
    assert a1.shape == (10, 3)
    # Resume: one more epoch continues from the saved state, not from scratch.
    logs = []
    s2 = train(_tiny(out, dataset[0], epochs=3), progress=False, log=logs.append)
    assert any('resuming' in line for line in logs)
    assert s2['epochs_done'] == 3 and s2['steps'] > summary['steps']


def test_kosmos2_variant_trains_with_the_same_pipeline(dataset, tmp_path):
    from vla_policy_node.policies import RoboVLMsPolicy, tiny_kosmos2_config
    from vla_policy_node.policies.backbones.kosmos2 import (build_offline_tokenizer,
                                                            processor_vocab_size)

    tok = str(tmp_path / 'tok')
    texts = [TEXT_L, TEXT_R, '두 박스 사이 왼쪽 경로로 컵까지 가세요']
    build_offline_tokenizer(tok, (texts + [canonical_text(t) for t in texts]) * 8,
                            vocab_size=400)
    backbone = {'type': 'kosmos2', 'model_config': tiny_kosmos2_config(
        processor_vocab_size(tok)), 'tokenizer_path': tok, 'embed_dim': 32, 'freeze': True}
    out = str(tmp_path / 'kosmos')
    cfg = _tiny(out, dataset[0], backbone=backbone, window_size=2, epochs=1, max_steps=4,
                batch_size=2, name='kosmos2-lstm-base')
    summary = train(cfg, progress=False, log=lambda *_: None)
    assert summary['steps'] == 4
    policy = RoboVLMsPolicy.from_pretrained(out)
    frozen = [p for n, p in policy.model.backbone.named_parameters() if 'model.' in n]
    assert frozen and not any(p.requires_grad for p in frozen)
    assert policy.num_parameters(True) < policy.num_parameters()


def test_evaluate_one_episode_through_the_stack(dataset, tmp_path):
    from vla_learning.evaluate import evaluate

    model = str(tmp_path / 'model')
    train(_tiny(model, dataset[0], epochs=1, max_steps=3), progress=False, log=lambda *_: None)
    out = str(tmp_path / 'eval')
    records = evaluate(model, out, ['1box_vert_left'], seeds=1, modes=['event'],
                       suites=['perturbation'], seed_base=7, timeout=90.0, progress=False)
    assert len(records) == 1
    r = records[0]
    assert r['outcome'] in ('reached', 'collided', 'timed_out', 'stopped_outside',
                            'overshot', 'moved_after_stop')
    assert r['ended_by'] in ('policy', 'timeout', 'collision')
    assert r['inferences'] > 0 and r['seed'] == 7 and r['suite'] == 'perturbation'
    assert os.path.isfile(os.path.join(out, 'results.md'))
    assert os.path.isfile(os.path.join(out, 'results.png'))
