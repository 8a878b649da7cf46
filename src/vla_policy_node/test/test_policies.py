"""The torch policy: every head builds, shapes, losses, save/load, history, errors."""

import json
import os

import numpy as np
import pytest
import torch
from vla_policy_node.policies import (CheckpointError, load_policy, NoDoneSignalWarning,
                                      NonFiniteActionError, Normalizer, Observation,
                                      ObservationError, RoboVLMsPolicy)
from vla_policy_node.policies.presets import LEFT, RIGHT

HEADS = ['mlp', 'lstm', 'gpt', 'discrete']


def image(seed=0, h=48, w=64):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def batch_for(policy, b=2, t=3, seed=0):
    rng = np.random.default_rng(seed)
    dims = policy.action_space.dims
    actions = rng.uniform(-0.4, 0.4, (b, t, policy.chunk_size, dims)).astype(np.float32)
    if policy.action_space.gripper_index is not None:
        actions[..., 6] = rng.integers(0, 2, actions.shape[:3])
    batch = {'images': rng.integers(0, 256, (b, t, 40, 40, 3), dtype=np.uint8),
             'instruction': [LEFT, RIGHT][:b] + [LEFT] * max(0, b - 2), 'actions': actions}
    if policy.config.state_dim:
        batch['state'] = rng.normal(size=(b, t, policy.config.state_dim)).astype(np.float32)
    return batch


@pytest.mark.parametrize('space', ['base', 'arm'])
@pytest.mark.parametrize('head', HEADS)
def test_every_head_builds_trains_and_predicts(tiny_policy, head, space):
    policy = tiny_policy(space, head)
    b, t = 2, 3
    with torch.no_grad():
        out = policy.model.predict_normalized(torch.zeros(b, t, policy.model.embed_dim))
    assert out.shape == (b, t, policy.chunk_size, policy.action_space.dims)
    assert float(out.abs().max()) <= 1.0
    policy.model.train()
    losses = policy.compute_loss(batch_for(policy, b, t))
    assert losses['loss'].dim() == 0 and torch.isfinite(losses['loss'])
    assert ('loss_gripper' in losses) == (space == 'arm')
    losses['loss'].backward()
    grads = [p.grad for p in policy.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    chunk = policy.predict_action_chunk(Observation(image(), LEFT))
    assert chunk.shape == (policy.chunk_size, policy.action_space.dims)
    assert chunk.dtype == np.float32
    # de-normalised outputs stay within the normaliser's SI bounds
    n = policy.normalizer
    assert np.all(chunk >= n.low - 1e-6) and np.all(chunk <= n.high + 1e-6)


@pytest.mark.parametrize('head', HEADS)
def test_save_load_round_trip_gives_identical_outputs(tiny_policy, tmp_path, head):
    policy = tiny_policy('arm', head, state_dim=4, normalizer=Normalizer.default('arm', 4))
    policy.save_pretrained(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ['config.json', 'model.safetensors',
                                            'normalization.json', 'tokenizer']
    loaded = RoboVLMsPolicy.from_pretrained(str(tmp_path))
    assert loaded.config == policy.config
    for step in range(6):  # through a full window and beyond
        obs = Observation(image(step), LEFT, state=np.arange(4.0) * step)
        np.testing.assert_array_equal(policy.predict_action_chunk(obs),
                                      loaded.predict_action_chunk(obs))
    assert loaded.history_length == policy.window_size
    same = load_policy(str(tmp_path), 'robovlms')
    assert isinstance(same, RoboVLMsPolicy) and same.source == str(tmp_path)


def test_training_reduces_the_loss_and_conditions_on_text(left_right_training):
    """Left and right instructions must come out with opposite lateral velocity (the tiny
    policy the node tests run, trained once per session, loaded from its checkpoint)."""
    assert left_right_training['last'] < 0.3 * left_right_training['first']
    policy = load_policy(left_right_training['path'])
    policy.reset()
    vy_left = policy.predict_action_chunk(Observation(image(1), LEFT))[:, 1]
    vy_right = policy.predict_action_chunk(Observation(image(1), RIGHT))[:, 1]
    assert np.all(vy_left > 0.1) and np.all(vy_right < -0.1)


def test_history_window_and_reset_on_new_text(tiny_policy):
    policy = tiny_policy('base', 'lstm', window_size=3)
    for i in range(5):
        policy.observe(Observation(image(i), LEFT))
    assert policy.history_length == 3
    policy.predict_action_chunk(Observation(image(9), RIGHT))  # new text: a new history
    assert policy.history_length == 1
    policy.reset()
    assert policy.history_length == 0
    with pytest.raises(ObservationError, match='no observation'):
        policy.predict_action_chunk()


def test_history_matters_for_recurrent_heads(tiny_policy):
    policy = tiny_policy('base', 'gpt', window_size=4)
    obs = Observation(image(0), LEFT)
    a = policy.predict_action_chunk(obs)
    policy.reset()
    policy.observe(Observation(image(5), LEFT))
    b = policy.predict_action_chunk(obs)
    assert not np.allclose(a, b)


def test_select_action_executes_n_action_steps(tiny_policy):
    policy = tiny_policy('base', 'mlp', chunk_size=5, n_action_steps=3)
    obs = Observation(image(), LEFT)
    chunk = policy.predict_action_chunk(obs)
    policy.reset()
    first = [policy.select_action(obs) for _ in range(3)]
    np.testing.assert_array_equal(np.stack(first), chunk[:3])
    assert policy.history_length == 3  # every call's observation entered the window


def test_canonical_conditioning(tiny_policy):
    policy = tiny_policy('base', 'mlp', condition_on='canonical')
    with pytest.raises(ObservationError, match='canonical'):
        policy.predict_action_chunk(Observation(image(), LEFT))
    a = policy.predict_action_chunk(Observation(image(), LEFT, 'go left'))
    b = policy.predict_action_chunk(Observation(image(), RIGHT, 'go left'))
    np.testing.assert_allclose(a, b, atol=1e-6)  # the Korean text is not what it sees


@pytest.mark.parametrize('obs, match', [
    (Observation(np.zeros((48, 64), np.uint8), LEFT), 'shape'),
    (Observation(np.zeros((48, 64, 3), np.float32), LEFT), 'dtype'),
    (Observation(np.zeros((8, 8, 3), np.uint8), LEFT), 'smaller'),
    (Observation(np.zeros((48, 64, 3), np.uint8), '  '), 'empty'),
    (Observation([np.zeros((48, 64, 3), np.uint8)] * 2, LEFT), '2 image'),
])
def test_bad_observations_are_rejected(tiny_policy, obs, match):
    with pytest.raises(ObservationError, match=match):
        tiny_policy('base', 'mlp').predict_action_chunk(obs)


def test_state_is_required_when_configured(tiny_policy):
    policy = tiny_policy('base', 'mlp', state_dim=3,
                         normalizer=Normalizer.default('base', 3))
    with pytest.raises(ObservationError, match='robot state'):
        policy.predict_action_chunk(Observation(image(), LEFT))
    with pytest.raises(ObservationError, match='expects 3'):
        policy.predict_action_chunk(Observation(image(), LEFT, state=np.zeros(2)))
    policy.predict_action_chunk(Observation(image(), LEFT, state=np.zeros(3)))


def test_nan_weights_raise_instead_of_acting(tiny_policy):
    policy = tiny_policy('base', 'lstm')
    with torch.no_grad():
        for p in policy.model.head.parameters():
            p.fill_(float('nan'))
    with pytest.raises(NonFiniteActionError):
        policy.predict_action_chunk(Observation(image(), LEFT))


def test_two_cameras(tiny_policy):
    policy = tiny_policy('arm', 'lstm', num_cameras=2)
    chunk = policy.predict_action_chunk(Observation([image(0), image(1, 60, 80)], LEFT))
    assert chunk.shape == (5, 7)
    batch = batch_for(policy)
    batch['images'] = np.stack([batch['images']] * 2, axis=2)
    assert torch.isfinite(policy.compute_loss(batch)['loss'])


# ----------------------------------------------------------------------- broken checkpoints

@pytest.fixture
def checkpoint(tiny_policy, tmp_path):
    path = tmp_path / 'ckpt'
    tiny_policy('base', 'lstm').save_pretrained(str(path))
    return path


def test_missing_directory_and_empty_path():
    with pytest.raises(CheckpointError, match='not found'):
        RoboVLMsPolicy.from_pretrained('/nonexistent/policy')
    with pytest.raises(CheckpointError, match='empty'):
        load_policy('')


@pytest.mark.parametrize('damage, match', [
    (lambda p: (p / 'config.json').unlink(), 'config.json missing'),
    (lambda p: (p / 'config.json').write_text('{not json'), 'cannot read'),
    (lambda p: (p / 'config.json').write_text(json.dumps({'type': 'robovlms'})), 'format'),
    (lambda p: (p / 'model.safetensors').unlink(), 'model.safetensors missing'),
    (lambda p: (p / 'model.safetensors').write_bytes(b'\x00' * 64), 'corrupt'),
    (lambda p: (p / 'normalization.json').unlink(), 'normalisation'),
    (lambda p: [f.unlink() for f in (p / 'tokenizer').iterdir()], 'tokenizer'),
])
def test_damaged_checkpoints_fail_loudly(checkpoint, damage, match):
    damage(checkpoint)
    with pytest.raises(CheckpointError, match=match):
        RoboVLMsPolicy.from_pretrained(str(checkpoint))


def test_weights_that_do_not_match_the_config(checkpoint):
    cfg = json.loads((checkpoint / 'config.json').read_text())
    cfg['head']['hidden_size'] = 48
    (checkpoint / 'config.json').write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match='do not match'):
        RoboVLMsPolicy.from_pretrained(str(checkpoint))


def test_unknown_backend():
    from vla_policy_node.policies import ConfigError

    with pytest.raises(ConfigError, match='unknown policy backend'):
        load_policy('/tmp', 'openvino')


def test_a_backbone_must_implement_the_whole_interface():
    from vla_policy_node.policies.backbones import Backbone

    class NoSaveTokenizer(Backbone):
        def tokenize(self, texts):
            return {}

    with pytest.raises(TypeError, match='save_tokenizer'):
        NoSaveTokenizer()


def done_batch(policy, b=4, t=2, seed=0):
    """Windows whose first half of texts is finished (done from chunk step 2 on), the rest
    not: a signal the done head can learn from the text alone."""
    batch = batch_for(policy, b, t, seed)
    done = np.zeros((b, t, policy.chunk_size), np.float32)
    done[: b // 2, :, 2:] = 1.0
    batch['instruction'] = [LEFT] * (b // 2) + [RIGHT] * (b - b // 2)
    batch['done'] = done
    return batch


@pytest.mark.parametrize('head', HEADS)
def test_every_head_predicts_a_done_probability_per_chunk_step(tiny_policy, tmp_path, head):
    policy = tiny_policy('base', head, done_head=True)
    assert policy.has_done_signal and not tiny_policy('base', head).has_done_signal
    with torch.no_grad():
        actions, done = policy.model.predict(torch.zeros(2, 3, policy.model.embed_dim))
    assert actions.shape == (2, 3, policy.chunk_size, 3) and done.shape == (2, 3, 5)
    assert float(done.min()) >= 0.0 and float(done.max()) <= 1.0
    policy.model.train()
    losses = policy.compute_loss(done_batch(policy))
    assert 'loss_done' in losses and 0.0 <= float(losses['done_accuracy']) <= 1.0
    losses['loss'].backward()
    assert policy.model.head.done_logit.weight.grad is not None
    prediction = policy.predict(Observation(image(), LEFT))
    assert prediction.done.shape == (policy.chunk_size,) and prediction.done.dtype == np.float32
    policy.reset()
    np.testing.assert_array_equal(prediction.actions,
                                  policy.predict_action_chunk(Observation(image(), LEFT)))
    # save_pretrained / from_pretrained keep it: the same probabilities come back.
    policy.reset()
    policy.save_pretrained(str(tmp_path))
    assert json.loads((tmp_path / 'config.json').read_text())['done_head'] is True
    loaded = RoboVLMsPolicy.from_pretrained(str(tmp_path))
    assert loaded.has_done_signal
    for step in range(3):
        a = policy.predict(Observation(image(step), LEFT))
        b = loaded.predict(Observation(image(step), LEFT))
        np.testing.assert_array_equal(a.done, b.done)


def test_the_done_head_learns_when_the_task_is_finished(tiny_policy):
    policy = tiny_policy('base', 'lstm', done_head=True, done_loss_weight=1.0)
    opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
    policy.model.train()
    batch = done_batch(policy, b=8)
    for _ in range(150):
        losses = policy.compute_loss(batch)
        opt.zero_grad()
        losses['loss'].backward()
        opt.step()
    assert float(losses['done_accuracy']) == 1.0
    policy.model.eval()

    def done_after(window, text):     # the same two-step history as in training
        policy.reset()
        policy.observe(Observation(window[0], text))
        return policy.predict(Observation(window[1], text)).done

    finished = done_after(batch['images'][0], LEFT)
    going = done_after(batch['images'][-1], RIGHT)
    assert finished[2:].min() > 0.5 > finished[:2].max() and going.max() < 0.5


def test_a_done_head_needs_done_targets(tiny_policy):
    policy = tiny_policy('base', 'mlp', done_head=True)
    with pytest.raises(ObservationError, match='no `done` targets'):
        policy.compute_loss(batch_for(policy))
    batch = done_batch(policy)
    batch['done'] = batch['done'][:, :, :3]
    with pytest.raises(ObservationError, match='done has shape'):
        policy.compute_loss(batch)


def test_a_checkpoint_without_the_done_signal_loads_with_a_warning(checkpoint):
    with pytest.warns(NoDoneSignalWarning, match='cannot end a task'):
        policy = load_policy(str(checkpoint))
    assert not policy.has_done_signal
    assert policy.predict(Observation(image(), LEFT)).done is None
    # Checkpoints written before the done head existed have no such key: the same.
    cfg = json.loads((checkpoint / 'config.json').read_text())
    cfg.pop('done_head'), cfg.pop('done_loss_weight')
    (checkpoint / 'config.json').write_text(json.dumps(cfg))
    with pytest.warns(NoDoneSignalWarning):
        assert not RoboVLMsPolicy.from_pretrained(str(checkpoint)).has_done_signal


def test_a_non_finite_done_signal_is_refused(tiny_policy):
    policy = tiny_policy('base', 'lstm', done_head=True)
    with torch.no_grad():
        policy.model.head.done_logit.bias.fill_(float('nan'))
    with pytest.raises(NonFiniteActionError, match='done'):
        policy.predict(Observation(image(), LEFT))


def test_colour_augmentation_keeps_every_hue_and_only_trains(tiny_policy):
    import colorsys

    from vla_policy_node.policies.presets import TINY_NANO

    policy = tiny_policy(backbone={**TINY_NANO, 'augment_color': 1.0})
    backbone = policy.model.backbone
    cfg = backbone.cfg
    rng = np.random.default_rng(0)
    rgb = torch.from_numpy(rng.uniform(0.2, 0.8, (6, 3, 8, 8)).astype(np.float32))
    mean = torch.tensor(cfg.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(cfg.image_std).view(1, 3, 1, 1)
    x = (rgb - mean) / std
    backbone.eval()
    assert torch.equal(backbone._augment(x), x)          # inference: untouched
    backbone.train()
    out = (backbone._augment_color(x) * std + mean).numpy()
    assert not np.allclose(out, rgb.numpy(), atol=1e-3)  # it does change the images
    changed = 0
    for before, after in zip(rgb.numpy().transpose(0, 2, 3, 1).reshape(-1, 3),
                             out.transpose(0, 2, 3, 1).reshape(-1, 3)):
        h0, s0, _ = colorsys.rgb_to_hsv(*before)
        h1, s1, _ = colorsys.rgb_to_hsv(*np.clip(after, 1e-6, None))
        if s1 > 0.02:               # (a pixel made grey has no hue left to compare)
            assert min(abs(h0 - h1), 1 - abs(h0 - h1)) < 1e-3
            changed += 1
    assert changed > 100
    with pytest.raises(Exception, match='augment_color'):
        tiny_policy(backbone={**TINY_NANO, 'augment_color': 1.5})


def test_hue_augmentation_changes_hues_per_sample_and_only_trains(tiny_policy):
    import colorsys

    from vla_policy_node.policies.presets import TINY_NANO

    policy = tiny_policy(backbone={**TINY_NANO, 'augment_hue': 1.0})
    backbone = policy.model.backbone
    cfg = backbone.cfg
    # 8 samples of a window of 2 frames, all of one saturated orange.
    orange = torch.tensor([0.8, 0.5, 0.2]).view(1, 3, 1, 1).expand(16, 3, 4, 4)
    mean = torch.tensor(cfg.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(cfg.image_std).view(1, 3, 1, 1)
    x = (orange - mean) / std
    backbone.eval()
    assert torch.equal(backbone._augment(x, 2), x)       # inference: untouched
    backbone.train()
    torch.manual_seed(0)
    out = (backbone._augment_hue(x, 2) * std + mean).reshape(8, 2, 3, 4, 4)
    assert torch.allclose(out[:, 0], out[:, 1])           # one change per sample
    assert torch.allclose(out.mean(dim=2), orange.mean(), atol=1e-5)   # brightness kept
    hues = [colorsys.rgb_to_hsv(*out[i, 0, :, 0, 0].tolist())[0] * 360 for i in range(8)]
    # Orange (30 deg) turns into hues far from it, the held-out blue band included.
    assert max(min(abs(h - 30), 360 - abs(h - 30)) for h in hues) > 90
    assert len({round(h) for h in hues}) == 8
    grey = tiny_policy(backbone={**TINY_NANO, 'augment_gray': 1.0}).model.backbone.train()
    out = grey._augment_hue(x, 2) * std + mean
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])
    # Exposure: per sample, each channel scaled by 2**(+-1 +- 0.25) (1 stop).
    light = tiny_policy(backbone={**TINY_NANO, 'augment_exposure': 1.0}).model.backbone.train()
    gain = ((light._augment_hue(x * 0.5 - mean / std * 0.5, 2) * std + mean) / (orange * 0.5))
    gain = gain.reshape(8, 2, 3, 4, 4)
    assert torch.allclose(gain[:, 0], gain[:, 1])
    assert gain.min() >= 2 ** -1.25 - 1e-4 and gain.max() <= 2 ** 1.25 + 1e-4
    assert gain.max() / gain.min() > 1.5
    for name in ('augment_hue', 'augment_gray', 'augment_exposure'):
        with pytest.raises(Exception, match=name):
            tiny_policy(backbone={**TINY_NANO, name: -0.1})
