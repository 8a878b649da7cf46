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


@pytest.mark.parametrize('head', ['gpt', 'discrete'])
def test_the_done_signal_goes_through_the_onnx_export(tiny_policy, tmp_path, head):
    policy = tiny_policy('base', head, done_head=True)
    policy.save_pretrained(str(tmp_path))
    torch_policy = RoboVLMsPolicy.from_pretrained(str(tmp_path))
    info = export_onnx(torch_policy)
    assert info['head_outputs'] == ['actions', 'done'] and info['max_abs_diff'] < 1e-4
    onnx_policy = load_policy(str(tmp_path), 'onnx', num_threads=1)
    assert onnx_policy.has_done_signal
    for step in range(5):
        obs = Observation(image(step), LEFT)
        a, b = torch_policy.predict(obs), onnx_policy.predict(obs)
        np.testing.assert_allclose(b.done, a.done, atol=1e-5)
    # An export made before the checkpoint had its done head would drop the signal: refused.
    tiny_policy('base', head).save_pretrained(str(tmp_path / 'old'))
    export_onnx(RoboVLMsPolicy.from_pretrained(str(tmp_path / 'old')))
    (tmp_path / 'config.json').replace(tmp_path / 'config.done.json')
    (tmp_path / 'old' / 'onnx').replace(tmp_path / 'onnx.old')
    import shutil
    shutil.rmtree(tmp_path / 'onnx')
    (tmp_path / 'onnx.old').replace(tmp_path / 'onnx')
    (tmp_path / 'config.done.json').replace(tmp_path / 'config.json')
    with pytest.raises(CheckpointError, match='export it again'):
        load_policy(str(tmp_path), 'onnx')


def test_head_outputs_are_found_by_name_in_any_order():
    from vla_policy_node.policies.exported import head_outputs

    # A TensorRT engine lists its outputs in its own order: looked up by name.
    assert head_outputs(['done', 'actions'], True, 'engine') == (1, 0)
    assert head_outputs(['actions'], False, 'engine') == (0, -1)
    assert head_outputs(['actions', 'done'], False, 'engine') == (0, -1)
    with pytest.raises(CheckpointError, match='export it again'):
        head_outputs(['actions'], True, 'engine')


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
