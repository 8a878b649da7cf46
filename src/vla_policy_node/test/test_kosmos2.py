"""Kosmos-2 backbone: real transformers classes, tiny config, offline tokenizer, no download."""

import os

import numpy as np
import pytest
import torch
from vla_policy_node.policies import (CheckpointError, ConfigError, Kosmos2BackboneConfig,
                                      load_policy, make_policy, Observation, RoboVLMsConfig,
                                      RoboVLMsPolicy)
from vla_policy_node.policies.presets import LEFT, RIGHT, TINY_HEADS

transformers = pytest.importorskip('transformers')


def image(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (60, 80, 3), dtype=np.uint8)


@pytest.fixture(scope='module')
def kosmos_policy(tiny_kosmos_backbone):
    torch.manual_seed(0)
    return make_policy('arm', tiny_kosmos_backbone, TINY_HEADS['lstm'], window_size=3,
                       chunk_size=4)


def test_uses_the_transformers_classes_and_processor_layout(kosmos_policy):
    backbone = kosmos_policy.model.backbone
    assert isinstance(backbone.model, transformers.Kosmos2Model)
    assert isinstance(backbone.processor, transformers.Kosmos2Processor)
    assert isinstance(backbone.tokenizer, transformers.XLMRobertaTokenizer)
    tokens = backbone.tokenize([LEFT, 'go left'])
    n = backbone.latent_query_num
    # <s> <image> [n image slots] </image> text </s>, image slots flagged for the resampler
    assert tokens['image_embeds_position_mask'][0, 2:2 + n].all()
    assert tokens['image_embeds_position_mask'][0].sum() == n
    assert tokens['input_ids'][0, 0] == backbone.tokenizer.bos_token_id
    # the frozen backbone has no trainable Kosmos-2 weights; the action token is trainable
    assert not any(p.requires_grad for p in backbone.model.parameters())
    assert backbone.act_token.requires_grad


def test_forward_shapes_and_loss(kosmos_policy):
    policy = kosmos_policy
    rng = np.random.default_rng(0)
    batch = {'images': rng.integers(0, 256, (2, 3, 56, 56, 3), dtype=np.uint8),
             'instruction': [LEFT, 'go to the cup passing the box on the right'],
             'actions': rng.uniform(-0.3, 0.3, (2, 3, 4, 7)).astype(np.float32)}
    batch['actions'][..., 6] = 1.0
    policy.model.train()
    losses = policy.compute_loss(batch)
    losses['loss'].backward()
    assert torch.isfinite(losses['loss'])
    assert policy.model.backbone.act_token.grad is not None
    assert not policy.model.backbone.model.training  # frozen: dropout stays off
    policy.model.eval()
    chunk = policy.predict_action_chunk(Observation(image(), LEFT))
    assert chunk.shape == (4, 7) and np.all((chunk[:, 6] >= 0) & (chunk[:, 6] <= 1))


def test_padding_does_not_change_the_embedding(kosmos_policy):
    """Batched (padded) and single encodings agree: the action token follows each text."""
    backbone = kosmos_policy.model.backbone
    imgs = torch.from_numpy(np.stack([image(0), image(1)])[:, None])
    short, long_ = 'go left', LEFT + ' ' + RIGHT
    with torch.no_grad():
        both = backbone(imgs, backbone.tokenize([short, long_]))
        one = backbone(imgs[:1], backbone.tokenize([short]))
    torch.testing.assert_close(both[:1], one, atol=1e-5, rtol=1e-4)


def test_save_load_round_trip(kosmos_policy, tmp_path):
    kosmos_policy.reset()
    kosmos_policy.save_pretrained(str(tmp_path))
    assert os.path.isfile(tmp_path / 'tokenizer' / 'tokenizer_config.json')
    loaded = RoboVLMsPolicy.from_pretrained(str(tmp_path))
    assert loaded.config.backbone.model_config is not None
    for step in range(4):
        obs = Observation(image(step), LEFT)
        np.testing.assert_array_equal(kosmos_policy.predict_action_chunk(obs),
                                      loaded.predict_action_chunk(obs))


def test_onnx_parity(kosmos_policy, tmp_path):
    from vla_policy_node.policies import export_onnx

    kosmos_policy.reset()
    kosmos_policy.save_pretrained(str(tmp_path))
    torch_policy = RoboVLMsPolicy.from_pretrained(str(tmp_path))
    info = export_onnx(torch_policy)
    assert info['max_abs_diff'] < 1e-4
    onnx_policy = load_policy(str(tmp_path), 'onnx')
    for step, text in enumerate([LEFT, LEFT, 'go left', 'go left']):
        obs = Observation(image(step), text)
        np.testing.assert_allclose(onnx_policy.predict_action_chunk(obs),
                                   torch_policy.predict_action_chunk(obs), atol=1e-4)


def test_pretrained_from_a_local_hf_directory(tiny_kosmos_backbone, kosmos_tokenizer_dir,
                                              tmp_path):
    """The real loading path: a Kosmos-2 checkpoint directory (weights + tokenizer)."""
    config = transformers.Kosmos2Config(**tiny_kosmos_backbone['model_config'])
    torch.manual_seed(3)
    transformers.Kosmos2Model(config).save_pretrained(str(tmp_path))
    for f in kosmos_tokenizer_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    policy = make_policy('base', {'type': 'kosmos2', 'pretrained': str(tmp_path)},
                         TINY_HEADS['mlp'], window_size=2, chunk_size=3)
    reference = transformers.Kosmos2Model.from_pretrained(str(tmp_path))
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(policy.model.backbone.model.state_dict()[name], value)
    assert policy.predict_action_chunk(Observation(image(), LEFT)).shape == (3, 3)


def test_pretrained_that_is_not_available_offline(kosmos_tokenizer_dir):
    cfg = RoboVLMsConfig(backbone={'type': 'kosmos2', 'pretrained': 'nobody/no-such-model',
                                   'tokenizer_path': str(kosmos_tokenizer_dir)},
                         head=TINY_HEADS['mlp'])
    with pytest.raises(CheckpointError, match='not downloaded'):
        RoboVLMsPolicy(cfg)


def test_tokenizer_larger_than_the_vocabulary(kosmos_tokenizer_dir, tiny_kosmos_backbone):
    from vla_policy_node.policies import tiny_kosmos2_config

    backbone = dict(tiny_kosmos_backbone, model_config=tiny_kosmos2_config(500))
    with pytest.raises(ConfigError, match='vocabulary'):
        make_policy('base', backbone, TINY_HEADS['mlp'])


def test_full_size_configuration_is_the_released_model():
    from vla_policy_node.policies import KOSMOS2_FULL_CONFIG

    cfg = transformers.Kosmos2Config(**KOSMOS2_FULL_CONFIG)
    assert cfg.text_config.embed_dim == 2048 and cfg.text_config.layers == 24
    assert cfg.vision_config.patch_size == 14 and cfg.vision_config.num_hidden_layers == 24
    assert Kosmos2BackboneConfig(model_config=KOSMOS2_FULL_CONFIG).image_size == 224
