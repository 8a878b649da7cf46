"""Jetson deployment pieces that run here: budgets, preflight on a faked /sys, engine metadata.

The TensorRT runtime itself needs a GPU: here only its error paths and the pure metadata /
device-match logic are tested (no fake engine).
"""

import builtins
import json
import os
import pathlib
import struct

import pytest
from vla_policy_node import preflight as pf
from vla_policy_node.policies import BACKENDS, BackendUnavailableError, CheckpointError
from vla_policy_node.policies import budgets
from vla_policy_node.policies import tensorrt_backend as trt

ORIN = 'NVIDIA Jetson Orin NX Engine (16GB ram)'
ORIN_SOC = 'nvidia,p3767-0000'
DOCS = pathlib.Path(__file__).resolve().parents[3] / 'docs' / 'jetson.md'


# --------------------------------------------------------------------------- budgets

def write_safetensors(path, tensors):
    header = {name: {'dtype': spec[0], 'shape': spec[1], 'data_offsets': [0, 0]}
              if spec else {'format': 'pt'} for name, spec in tensors.items()}
    raw = json.dumps(header).encode()
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)) + raw)


def test_issue_figure_kosmos2_fp16_floor():
    # Kosmos-2 1.6B in fp16 read once at 102.4 GB/s: >= ~32 ms (the issue's figure).
    row = budgets.BUDGETS_BY_KEY['kosmos2-full-lstm-trt-fp16']
    backbone_bytes = (row.params_m - 29.2) * 1e6 * 2
    assert 31.0 < backbone_bytes / 102.4e9 * 1e3 < 34.0
    assert row.orin_latency_ms >= 32.0
    # int8 halves the traffic; fp32 doubles it; memory follows the same order.
    fp32 = budgets.BUDGETS_BY_KEY['kosmos2-full-lstm-fp32']
    int8 = budgets.BUDGETS_BY_KEY['kosmos2-full-lstm-trt-int8']
    assert int8.orin_latency_ms < row.orin_latency_ms < fp32.orin_latency_ms
    assert int8.orin_memory_mb < row.orin_memory_mb < fp32.orin_memory_mb < 16 * 1024


def test_cpu_figures_are_the_measured_ones():
    rows = budgets.BUDGETS_BY_KEY
    assert rows['nano-lstm256-onnx'].cpu_latency_ms == 4.4
    assert rows['kosmos2-full-lstm-bf16'].cpu_memory_mb == 3776
    assert rows['kosmos2-full-lstm-fp32'].memory_mb('cpu') == 6982
    for key in ('nano-mlp', 'kosmos2-tiny-lstm', 'kosmos2-full-lstm-fp16'):
        assert key in rows


def test_safetensors_header_and_budget_lookup(tmp_path):
    from vla_policy_node.policies import RoboVLMsConfig

    path = tmp_path / 'model.safetensors'
    write_safetensors(path, {'backbone.w': ('F32', [1000, 2000]),
                             'head.w': ('F32', [200, 1000]), '__metadata__': None})
    stats = budgets.safetensors_stats(str(path))
    assert (stats.params, stats.head_params, stats.nbytes, stats.dtype) == \
        (2_200_000, 200_000, 8_800_000, 'fp32')
    cfg = RoboVLMsConfig(action_space='base', backbone={'type': 'nano'},
                         head={'type': 'mlp'})
    row = budgets.budget_for(cfg, stats, 'robovlms')
    assert row.key == 'nano-mlp'  # 2.2 M is within 15 % of the 2.5 M row
    onnx = budgets.budget_for(cfg, stats, 'onnx')
    assert 'estimated' in onnx.key and onnx.cpu_memory_mb and onnx.orin_memory_mb > 0
    with pytest.raises(CheckpointError, match='safetensors header'):
        budgets.safetensors_stats(str(tmp_path / 'missing.safetensors'))


def test_memory_check_refuses_a_model_too_large():
    full = budgets.BUDGETS_BY_KEY['kosmos2-full-lstm-fp32']
    refused = budgets.check_memory(full, 'orin', available_mb=6000.0, process_rss_mb=200.0)
    assert not refused.ok and 'too large for free memory' in refused.message
    assert '6000 MiB available' in refused.message
    fits = budgets.check_memory(budgets.BUDGETS_BY_KEY['kosmos2-full-lstm-trt-fp16'], 'orin',
                                available_mb=12000.0)
    assert fits.ok and fits.need_mb == pytest.approx(fits.need_mb)


def test_kosmos2_variants_are_told_apart():
    from vla_policy_node.policies import KOSMOS2_FULL_CONFIG, RoboVLMsConfig

    full = RoboVLMsConfig(action_space='base', backbone={'type': 'kosmos2',
                                                         'model_config': KOSMOS2_FULL_CONFIG})
    tiny = RoboVLMsConfig(action_space='base', backbone={
        'type': 'kosmos2', 'model_config': {'text_config': {'embed_dim': 32}}})
    assert budgets.backbone_variant(full) == 'kosmos2-full'
    assert budgets.backbone_variant(tiny) == 'kosmos2-tiny'


def test_docs_embed_the_budget_table():
    assert budgets.markdown_table() in DOCS.read_text(encoding='utf-8'), \
        'regenerate the table in docs/jetson.md from budgets.markdown_table()'


# --------------------------------------------------------------------------- preflight

def fake_jetson(root, temp_mc=52000, gpu=(306000000, 918000000, 612000000), mode='MAXN'):
    def put(rel, text):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    put('proc/device-tree/model', ORIN + '\x00')
    put('proc/device-tree/compatible', ORIN_SOC + '\x00nvidia,tegra234\x00')
    put('etc/nv_tegra_release', '# R36 (release), REVISION: 4.3, GCID: 1, BOARD: generic\n')
    put('proc/meminfo', 'MemTotal: 15655000 kB\nMemAvailable: 12000000 kB\n')
    put('sys/class/thermal/thermal_zone0/type', 'cpu-thermal\n')
    put('sys/class/thermal/thermal_zone0/temp', '99000\n')
    put('sys/class/thermal/thermal_zone1/type', 'gpu-thermal\n')
    put('sys/class/thermal/thermal_zone1/temp', f'{temp_mc}\n')
    for name, value in zip(('min_freq', 'max_freq', 'cur_freq'), gpu):
        put(f'sys/class/devfreq/17000000.gpu/{name}', f'{value}\n')
    if mode:
        put('var/lib/nvpmodel/status', 'pmode:0000 fmode:fanNull\n')
    return lambda argv: f'NV Power Mode: {mode}\n0\n' if mode else None


def test_device_info_of_an_orin(tmp_path):
    fake_jetson(tmp_path)
    info = pf.read_device_info(str(tmp_path))
    assert info.is_jetson and info.model == ORIN and info.soc == ORIN_SOC
    assert (info.l4t, info.jetpack) == ('36.4.3', '6.1/6.2')
    assert pf.mem_available_mb(str(tmp_path)) == pytest.approx(12000000 / 1024)
    assert pf.gpu_temperature_c(str(tmp_path)) == ('gpu-thermal', 52.0)


def test_preflight_ok_with_unlocked_clock_warning(tmp_path):
    run = fake_jetson(tmp_path)
    report = pf.run_preflight(pf.Limits(), available_mb=None, root=str(tmp_path), run=run)
    levels = {c.name: c.level for c in report.checks}
    assert levels == {'device': pf.OK, 'memory': pf.WARN, 'power_mode': pf.OK,
                      'clocks': pf.WARN, 'gpu_temp': pf.OK}
    assert report.ok and 'jetson_clocks' in report.summary()
    assert report.values()['power_mode.mode'] == 'MAXN'


@pytest.mark.parametrize('limits, setup, failing', [
    (pf.Limits(max_gpu_temp_c=80.0), {'temp_mc': 81500}, 'gpu_temp'),
    (pf.Limits(required_power_mode='MAXN'), {'mode': '15W'}, 'power_mode'),
    (pf.Limits(required_power_mode='MAXN'), {'mode': ''}, 'power_mode'),
    (pf.Limits(require_locked_clocks=True), {}, 'clocks'),
])
def test_preflight_refuses_when_a_limit_is_exceeded(tmp_path, limits, setup, failing):
    run = fake_jetson(tmp_path, **setup)
    report = pf.run_preflight(limits, root=str(tmp_path), run=run)
    assert not report.ok
    assert [e.split(':')[0] for e in report.errors()] == [failing]


def test_locked_clocks_and_status_file_power_mode(tmp_path):
    fake_jetson(tmp_path, gpu=(918000000, 918000000, 918000000))
    report = pf.run_preflight(pf.Limits(require_locked_clocks=True), root=str(tmp_path),
                              run=lambda argv: None)  # no nvpmodel binary: the status file
    assert report.ok and report.values()['power_mode.mode'] == 'id 0'


def test_not_a_jetson_checks_only_memory(tmp_path):
    (tmp_path / 'proc').mkdir()
    (tmp_path / 'proc' / 'meminfo').write_text('MemAvailable: 1024000 kB\n')
    small = budgets.BUDGETS_BY_KEY['nano-mlp']
    big = budgets.BUDGETS_BY_KEY['kosmos2-full-lstm-fp32']
    for row, ok in ((small, True), (big, False)):
        verdict = budgets.check_memory(row, 'cpu', 1000.0)
        report = pf.run_preflight(pf.Limits(max_gpu_temp_c=30.0, required_power_mode='MAXN'),
                                  verdict, root=str(tmp_path), run=lambda argv: None)
        assert [c.name for c in report.checks] == ['device', 'memory']
        assert report.checks[0].message.startswith('not a Jetson')
        assert report.ok is ok


def test_preflight_module_is_pure():
    import ast

    tree = ast.parse(pathlib.Path(pf.__file__).read_text())
    names = {a.name.split('.')[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    names |= {(n.module or '').split('.')[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom)}
    assert not names & {'rclpy', 'torch', 'diagnostic_msgs', 'tensorrt'}


# --------------------------------------------------------------------------- TensorRT

def meta(**kw):
    base = dict(device_model=ORIN, soc=ORIN_SOC, l4t='36.4.3', jetpack='6.1/6.2',
                tensorrt='10.3.0.30', precision='fp16')
    base.update(kw)
    return trt.EngineMeta(**base)


def test_engine_matches_same_device_and_tensorrt_minor():
    assert trt.engine_mismatch(meta(), ORIN, ORIN_SOC, '10.3.0.26') is None


@pytest.mark.parametrize('device, soc, version, words', [
    ('NVIDIA Jetson AGX Orin Developer Kit', 'nvidia,p3701-0005', '10.3.0.30', 'rebuild it here'),
    (ORIN, 'nvidia,p3767-0001', '10.3.0.30', 'rebuild it here'),
    (ORIN, ORIN_SOC, '8.6.2.3', 'TensorRT 10.3.0.30'),
    (ORIN, ORIN_SOC, '', 'not installed'),
    ('', '', '10.3.0.30', 'not a Jetson'),
])
def test_engine_from_another_device_or_tensorrt_is_refused(device, soc, version, words):
    assert words in trt.engine_mismatch(meta(), device, soc, version)


def test_engine_dir_checks_metadata_files_and_hashes(tmp_path):
    with pytest.raises(CheckpointError, match='build_trt_engine'):
        trt.read_engine_meta(str(tmp_path))
    (tmp_path / 'engine.json').write_text(json.dumps({'format': 'other'}))
    with pytest.raises(CheckpointError, match='format'):
        trt.read_engine_meta(str(tmp_path))
    for name in (trt.ENCODER_ENGINE, trt.HEAD_ENGINE):
        (tmp_path / name).write_bytes(b'serialized ' + name.encode())
    good = meta(encoder_sha256=trt.sha256_file(str(tmp_path / trt.ENCODER_ENGINE)),
                head_sha256='0' * 64)
    trt.write_engine_meta(str(tmp_path), good)
    assert trt.read_engine_meta(str(tmp_path)) == good
    with pytest.raises(CheckpointError, match='not the engine'):
        trt.check_engine_dir(str(tmp_path), ORIN, ORIN_SOC, '10.3.0.30')
    with pytest.raises(CheckpointError, match='AGX'):
        trt.check_engine_dir(str(tmp_path), 'NVIDIA Jetson AGX Orin', '', '10.3.0.30')
    os.remove(tmp_path / trt.HEAD_ENGINE)
    with pytest.raises(CheckpointError, match='engine file missing'):
        trt.check_engine_dir(str(tmp_path), ORIN, ORIN_SOC, '10.3.0.30')


def test_tensorrt_backend_without_tensorrt(tiny_policy, tmp_path, monkeypatch):
    from vla_policy_node.policies import load_policy

    assert 'tensorrt' in BACKENDS
    tiny_policy().save_pretrained(str(tmp_path))
    real_import = builtins.__import__

    def no_trt(name, *args, **kwargs):
        if name in ('tensorrt', 'cuda', 'pycuda', 'pycuda.autoinit'):
            raise ImportError(f'No module named {name}')
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, '__import__', no_trt)
    with pytest.raises(BackendUnavailableError, match='python3-libnvinfer'):
        load_policy(str(tmp_path), 'tensorrt')
    assert trt.installed_tensorrt_version() == ''
    with pytest.raises(BackendUnavailableError, match='cuda-python'):
        trt._Cuda()


def test_tensorrt_policy_cannot_be_saved_as_a_checkpoint(tmp_path):
    from vla_policy_node.policies import EngineNotSavableError, PolicyError

    # No engines are needed to get to save_pretrained: skip __init__ (it loads them).
    policy = trt.TensorRTPolicy.__new__(trt.TensorRTPolicy)
    out = tmp_path / 'ckpt'
    with pytest.raises(EngineNotSavableError, match='cannot be saved as a checkpoint') as err:
        policy.save_pretrained(str(out))
    assert 'PyTorch' in str(err.value) and 'export_policy_onnx' in str(err.value)
    assert isinstance(err.value, PolicyError) and isinstance(err.value, NotImplementedError)
    assert not out.exists()


def test_build_tool_profiles_and_trtexec_command():
    from vla_policy_node.trt_build import same_shape, shape_profiles, trtexec_command

    info = {'inputs': ['images', 'input_ids', 'attention_mask', 'state'], 'image_size': 64,
            'num_cameras': 1, 'embed_dim': 128, 'window_size': 8}
    prof = shape_profiles(info, opt_tokens=12, max_tokens=64)
    assert prof['encoder']['input_ids'] == ((1, 1), (1, 12), (1, 64))
    assert prof['encoder']['images'][0] == (1, 1, 64, 64, 3) and 'state' not in prof['encoder']
    assert prof['head']['embeddings'] == ((1, 1, 128), (1, 8, 128), (1, 8, 128))
    cmd = trtexec_command('e.onnx', 'e.engine', prof['head'], 'int8', 'c.cache')
    assert '--optShapes=embeddings:1x8x128' in cmd and '--int8' in cmd and '--fp16' in cmd
    import numpy as np
    feeds = [{'a': np.zeros((1, n))} for n in (3, 4, 3)]
    kept, shapes = same_shape(feeds)
    assert len(kept) == 2 and shapes == {'a': (1, 3)}


def test_build_tool_without_export_is_an_actionable_error(tiny_policy, tmp_path, capsys):
    from vla_policy_node.trt_build import main

    tiny_policy().save_pretrained(str(tmp_path))
    assert main([str(tmp_path)]) == 1
    assert 'export_policy_onnx' in capsys.readouterr().err
