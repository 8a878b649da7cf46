"""Configs: registered by name, validated on construction, JSON round trip."""

import json

import pytest
from vla_policy_node.policies import (BACKBONES, config_from_dict, ConfigError, HEADS,
                                      LSTMHeadConfig, NanoBackboneConfig, POLICIES,
                                      RoboVLMsConfig)


def test_registries_know_every_backbone_head_and_policy():
    assert BACKBONES.names() == ['kosmos2', 'nano']
    assert HEADS.names() == ['discrete', 'gpt', 'lstm', 'mlp']
    assert POLICIES.names() == ['robovlms']


def test_seed_defaults():
    cfg = RoboVLMsConfig()
    assert (cfg.window_size, cfg.chunk_size, cfg.n_action_steps) == (16, 10, 10)
    assert cfg.loss_beta == 0.1 and cfg.gripper_loss_weight == 0.01
    assert isinstance(cfg.head, LSTMHeadConfig)
    assert (cfg.head.hidden_size, cfg.head.num_layers, cfg.head.dropout) == (1024, 4, 0.1)
    assert HEADS.get('mlp')().hidden_size == 1024
    assert HEADS.get('discrete')().num_bins == 256
    gpt = HEADS.get('gpt')()
    assert (gpt.num_layers, gpt.num_heads) == (6, 16)
    assert NanoBackboneConfig().image_size == 64


def test_round_trip_through_json():
    cfg = RoboVLMsConfig(action_space='arm', backbone={'type': 'nano', 'image_size': 32,
                                                       'channels': [8, 16]},
                         head={'type': 'gpt', 'hidden_size': 32, 'num_heads': 4},
                         window_size=8, chunk_size=5, condition_on='canonical', state_dim=6)
    data = json.loads(json.dumps(cfg.to_dict()))
    again = config_from_dict(data)
    assert again == cfg
    assert again.backbone.channels == (8, 16)


@pytest.mark.parametrize('kwargs, match', [
    ({'action_space': 'wheel'}, 'action_space'),
    ({'chunk_size': 0}, 'chunk_size'),
    ({'window_size': -1}, 'window_size'),
    ({'condition_on': 'english'}, 'condition_on'),
    ({'n_action_steps': 20}, 'n_action_steps'),
    ({'backbone': {'type': 'resnet'}}, 'unknown backbone'),
    ({'backbone': {'image_size': 64}}, 'needs a "type"'),
    ({'head': {'type': 'lstm', 'hidden_size': 0}}, 'hidden_size'),
    ({'head': {'type': 'gpt', 'hidden_size': 30, 'num_heads': 4}}, 'divisible'),
    ({'head': {'type': 'mlp', 'dropout': 1.5}}, 'dropout'),
    ({'head': {'type': 'discrete', 'num_bins': 1}}, 'num_bins'),
    ({'backbone': {'type': 'nano', 'image_size': 50}}, 'multiple of'),
    ({'backbone': {'type': 'nano', 'tokenizer': 'bpe'}}, 'tokenizer'),
    ({'backbone': {'type': 'kosmos2'}}, 'pretrained'),
    ({'backbone': {'type': 'nano', 'colour': 'red'}}, 'unknown field'),
])
def test_invalid_configs_fail_on_construction(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RoboVLMsConfig(**kwargs)


def test_config_from_dict_needs_a_known_type():
    with pytest.raises(ConfigError, match='no "type"'):
        config_from_dict({'action_space': 'base'})
    with pytest.raises(ConfigError, match='unknown policy'):
        config_from_dict({'type': 'act'})
    with pytest.raises(ConfigError, match='unknown field'):
        config_from_dict({'type': 'robovlms', 'learning_rate': 1e-4})
