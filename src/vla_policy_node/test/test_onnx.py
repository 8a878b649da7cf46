"""ONNX Runtime backend: parity with torch for nano and every head; actionable errors."""

import builtins

import numpy as np
import pytest
from vla_policy_node.policies import (BackendUnavailableError, CheckpointError, export_onnx,
                                      load_policy, Normalizer, Observation, OnnxPolicy,
                                      RoboVLMsPolicy)
from vla_policy_node.policies.presets import LEFT, RIGHT

pytest.importorskip('onnxruntime')


def image(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize('head', ['mlp', 'lstm', 'gpt', 'discrete'])
def test_nano_parity(tiny_policy, tmp_path, head):
    space = 'arm' if head in ('lstm', 'discrete') else 'base'
    policy = tiny_policy(space, head, window_size=4, state_dim=2,
                         normalizer=Normalizer.default(space, 2))
    policy.save_pretrained(str(tmp_path))
    torch_policy = RoboVLMsPolicy.from_pretrained(str(tmp_path))
    info = export_onnx(torch_policy)
    assert info['max_abs_diff'] < 1e-4 and info['inputs'][0] == 'images'
    onnx_policy = load_policy(str(tmp_path), 'onnx', num_threads=1)
    assert isinstance(onnx_policy, OnnxPolicy) and onnx_policy.image_size == 32
    rng = np.random.default_rng(0)
    for step in range(7):  # fills the window (dynamic time axis), then slides
        text = LEFT if step < 5 else RIGHT
        obs = Observation(image(step), text, state=rng.normal(size=2))
        a = torch_policy.predict_action_chunk(obs)
        b = onnx_policy.predict_action_chunk(obs)
        if head == 'discrete':  # argmax over bins: equal unless a logit tie flips
            assert np.mean(np.isclose(a, b, atol=1e-5)) > 0.95
        else:
            np.testing.assert_allclose(b, a, atol=1e-5)
    assert onnx_policy.history_length == torch_policy.history_length == 2


def test_missing_export_is_an_actionable_error(tiny_policy, tmp_path):
    tiny_policy().save_pretrained(str(tmp_path))
    with pytest.raises(CheckpointError, match='export_policy_onnx'):
        load_policy(str(tmp_path), 'onnx')


def test_missing_onnxruntime_is_an_actionable_error(tiny_policy, tmp_path, monkeypatch):
    tiny_policy().save_pretrained(str(tmp_path))
    real_import = builtins.__import__

    def no_ort(name, *args, **kwargs):
        if name == 'onnxruntime':
            raise ImportError('No module named onnxruntime')
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, '__import__', no_ort)
    with pytest.raises(BackendUnavailableError, match='pip install onnxruntime'):
        load_policy(str(tmp_path), 'onnx')


def test_export_needs_a_destination(tiny_policy):
    with pytest.raises(CheckpointError, match='out_dir'):
        export_onnx(tiny_policy())


def test_an_onnx_policy_cannot_be_saved_as_a_checkpoint(tiny_policy, tmp_path):
    from vla_policy_node.policies import EngineNotSavableError

    tiny_policy('base', 'mlp').save_pretrained(str(tmp_path))
    export_onnx(RoboVLMsPolicy.from_pretrained(str(tmp_path)))
    onnx_policy = load_policy(str(tmp_path), 'onnx', num_threads=1)
    with pytest.raises(EngineNotSavableError, match='export_policy_onnx'):
        onnx_policy.save_pretrained(str(tmp_path / 'copy'))
    assert not (tmp_path / 'copy').exists()
