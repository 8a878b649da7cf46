"""Shared fixtures: tiny policy configurations, an offline Kosmos-2 tokenizer, checkpoints."""

from __future__ import annotations

import pathlib
import sys
from typing import Any, Callable, Dict

import pytest
from vla_policy_node.policies.presets import EXAMPLE_INSTRUCTIONS, TINY_HEADS, TINY_NANO

# Test helper modules next to this file (scripted_policy.py) are imported by name: pytest
# runs in importlib mode, which does not put test directories on sys.path.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

CORPUS = list(EXAMPLE_INSTRUCTIONS) + ['pick up the red block', '멈춰']


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tests share a 2-core machine: one intra-op thread, restored afterwards."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def tiny_policy() -> Callable[..., Any]:
    """Factory: tiny randomly initialised RoboVLMsPolicy(action_space, head, **fields)."""
    import torch

    from vla_policy_node.policies import make_policy

    def make(action_space: str = 'base', head: str = 'lstm', seed: int = 0,
             **fields: Any) -> Any:
        torch.manual_seed(seed)
        fields.setdefault('window_size', 4)
        fields.setdefault('chunk_size', 5)
        backbone = fields.pop('backbone', TINY_NANO)
        return make_policy(action_space, backbone, TINY_HEADS[head], **fields)
    return make


@pytest.fixture(scope='session')
def kosmos_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A Kosmos-2 tokenizer trained offline on a small Korean/English corpus."""
    from vla_policy_node.policies.backbones.kosmos2 import build_offline_tokenizer

    directory = tmp_path_factory.mktemp('kosmos2-tokenizer')
    build_offline_tokenizer(str(directory), CORPUS * 4, vocab_size=400)
    return directory


@pytest.fixture(scope='session')
def tiny_kosmos_backbone(kosmos_tokenizer_dir: pathlib.Path) -> Dict[str, Any]:
    """A tiny Kosmos-2 backbone config dict (random weights, real transformers classes)."""
    from vla_policy_node.policies import tiny_kosmos2_config
    from vla_policy_node.policies.backbones.kosmos2 import processor_vocab_size

    vocab = processor_vocab_size(str(kosmos_tokenizer_dir))
    return {'type': 'kosmos2', 'model_config': tiny_kosmos2_config(vocab),
            'tokenizer_path': str(kosmos_tokenizer_dir), 'embed_dim': 32}


@pytest.fixture(scope='session')
def left_right_training(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """A tiny nano+MLP base policy trained once per session so LEFT -> +linear_y and RIGHT ->
    -linear_y (the policy tests check the training, the node tests run the checkpoint):
    {'path': checkpoint directory, 'first': first loss, 'last': last loss}."""
    import torch
    from left_right import train_left_right
    from vla_policy_node.policies import make_policy

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        policy = make_policy('base', TINY_NANO, TINY_HEADS['mlp'], window_size=1,
                             chunk_size=10, name='left-right-test')
        first, last = train_left_right(policy, forward=0.1, steps=200)
        path = tmp_path_factory.mktemp('left-right')
        policy.save_pretrained(str(path))
    finally:
        torch.set_num_threads(threads)
    return {'path': str(path), 'first': first, 'last': last}


@pytest.fixture
def left_right_checkpoint(left_right_training: Dict[str, Any]) -> str:
    return left_right_training['path']
