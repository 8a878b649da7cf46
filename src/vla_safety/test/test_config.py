"""Parameter table, shipped parameter files, validation, and the message constants."""

import dataclasses
import json
import pathlib

import pytest
import yaml
from vla_safety.core import config as cfg
from vla_safety.core.gate import (ARM_MODE_EE_DELTA, ARM_MODE_HOLD, ARM_MODE_JOINT_POSITION,
                                  ARM_MODE_STOP)
from vla_safety.core.reasons import GateState, Reason

SRC_CONFIG = pathlib.Path(__file__).resolve().parents[1] / 'config'
DATA = pathlib.Path(__file__).resolve().parent / 'data'


def _flatten(tree, prefix=''):
    out = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            out.update(_flatten(value, name + '.'))
        else:
            out[name] = value
    return out


@pytest.mark.parametrize('filename, mode', [('safety_gate.param.yaml', 'base'),
                                            ('safety_gate_arm.param.yaml', 'arm')])
def test_shipped_parameter_files_match_the_declared_table(filename, mode):
    data = yaml.safe_load((SRC_CONFIG / filename).read_text())
    assert list(data) == ['/**'], 'one /** root key'
    params = _flatten(data['/**']['ros__parameters'])
    expected = cfg.defaults(mode)
    expected['mode'] = mode
    assert params == expected
    for name, value in params.items():     # floats written as floats (rclpy refuses 0 for 0.0)
        assert type(value) is type(cfg.SPECS[name].default), name
        if isinstance(value, list):
            assert all(type(v) is type(cfg.SPECS[name].default[0]) for v in value), name
    cfg.build(params)


def test_every_parameter_has_a_description_and_numbers_have_ranges():
    for spec in cfg.PARAMS:
        assert len(spec.description) > 10, spec.name
        if isinstance(spec.default, float):
            assert spec.min_value is not None, spec.name
            assert spec.max_value is not None or spec.max_from is not None, spec.name
        if spec.max_from:
            assert cfg.SPECS[spec.max_from].read_only and spec.max_from.startswith('hard_caps.')
    assert all(s.name.startswith(('limits.', 'arm.')) or s.read_only for s in cfg.PARAMS)


def test_the_declared_table_is_the_one_declared_before_it_moved_onto_the_config_fields():
    """data/gate_parameters.json: every parameter as the hand-written table declared it
    (3dd68ba): name, type, default, description, range, read-only, modes, hard cap."""
    recorded = json.loads((DATA / 'gate_parameters.json').read_text())['params']
    declared = {}
    for spec in cfg.PARAMS:
        row = dataclasses.asdict(spec)
        row.update(type=type(spec.default).__name__, modes=list(spec.modes))
        declared[spec.name] = row
    assert declared == recorded
    for mode in cfg.MODES:      # a hard cap is declared before the limits it bounds
        names = [s.name for s in cfg.specs_for(mode)]
        assert names[0] == 'mode'
        assert all(names.index(s.max_from) < names.index(s.name)
                   for s in cfg.specs_for(mode) if s.max_from)


def test_defaults_build_for_both_modes():
    settings, base = cfg.build({})
    assert settings.mode == 'base' and isinstance(base, cfg.BaseGateConfig)
    assert base.zones.stop_distance == 0.1 and base.supervisor.command_timeout == 0.25
    settings, arm = cfg.build({'mode': 'arm'})
    assert isinstance(arm, cfg.ArmGateConfig)
    assert arm.limits.workspace_min == (-0.5, -0.5, 0.0)
    assert arm.limits.workspace_max == (0.5, 0.5, 0.3)
    # the configs' own defaults are the parameters' (one source)
    assert base == cfg.BaseGateConfig() and arm == cfg.ArmGateConfig()
    assert settings == cfg.NodeSettings(mode='arm')


@pytest.mark.parametrize('values, match', [
    ({'mode': 'wheelchair'}, 'mode'),
    ({'limits.max_vel_x_forward': 0.8}, 'hard cap'),
    ({'hard_caps.max_linear_velocity': 0.3}, 'hard cap'),
    ({'scan.slowdown_distance': 0.05}, 'slowdown_distance'),
    ({'geofence.polygon': [0.0, 0.0, 1.0, 0.0]}, 'geofence.polygon'),
    ({'command_timeout': 0.01}, 'command_timeout'),
    ({'rate': 10.0, 'command_timeout': 0.05}, 'one tick'),
    ({'time_source': 'wall'}, 'time_source'),
    ({'limits.max_accel_x': 0.0}, 'max_accel_x'),
    ({'mode': 'arm', 'arm.model': 'UR5'}, 'not a known arm .*GEN72, RM65, RM75'),
    ({'mode': 'arm', 'arm.model': 'rm75'}, 'not a known arm'),
    ({'mode': 'arm', 'arm.workspace_min': [0.0, 0.0, 0.5]}, 'workspace_min'),
    ({'mode': 'arm', 'arm.max_translation_step': 0.05}, 'max_translation_step'),
    ({'mode': 'arm', 'arm.command_rate': 0.5}, 'command_rate'),
])
def test_unsafe_or_inconsistent_values_are_refused(values, match):
    with pytest.raises(cfg.ConfigError, match=match):
        cfg.build(values)


def test_runtime_changes_only_for_runtime_parameters():
    values = cfg.defaults('base')
    changed = cfg.with_changes(values, {'limits.max_vel_x_forward': 0.3})
    assert cfg.build(changed)[1].velocity.max_vx_forward == 0.3
    with pytest.raises(cfg.ConfigError, match='read-only'):
        cfg.with_changes(values, {'hard_caps.max_linear_velocity': 1.0})
    with pytest.raises(cfg.ConfigError, match='read-only'):
        cfg.with_changes(values, {'require_scan': False})


def test_core_constants_match_the_messages():
    from vla_msgs.msg import ArmCommand, SafetyState
    for reason in Reason:
        if reason.name and reason != Reason.NONE:
            assert getattr(SafetyState, 'REASON_' + reason.name) == int(reason), reason.name
    assert SafetyState.REASON_NONE == 0
    msg_reasons = {n[len('REASON_'):] for n in dir(SafetyState) if n.startswith('REASON_')}
    assert msg_reasons - {'NONE'} == {r.name for r in Reason if r.name and r != Reason.NONE}
    for state in GateState:
        assert getattr(SafetyState, 'STATE_' + state.name) == int(state)
    assert ArmCommand.MODE_END_EFFECTOR_DELTA == ARM_MODE_EE_DELTA
    assert ArmCommand.MODE_JOINT_POSITION == ARM_MODE_JOINT_POSITION
    assert ArmCommand.MODE_STOP == ARM_MODE_STOP
    assert ArmCommand.MODE_HOLD == ARM_MODE_HOLD


@pytest.mark.parametrize('model, dof', [('RM65', 6), ('RM75', 7), ('GEN72', 7)])
def test_arm_model_selects_joints_limits_and_kinematics_from_the_table(model, dof):
    from vla_common.arm_models import arm_model, Kinematics
    from vla_safety.core.kinematics import ForwardKinematics
    _, config = cfg.build({'mode': 'arm', 'arm.model': model})
    lim, arm = config.limits, arm_model(model)
    assert lim.arm == arm
    assert lim.arm.joint_names == tuple(f'joint{i}' for i in range(1, dof + 1))
    q = [0.3] * dof
    assert ForwardKinematics(model, (0, 0, 0.1)).position(q) == pytest.approx(
        Kinematics(arm, (0, 0, 0.1)).position(q))


def test_core_does_not_import_rclpy_or_messages():
    from vla_testing.lint import forbidden_imports
    core = pathlib.Path(cfg.__file__).resolve().parent
    files = sorted(core.glob('*.py'))
    assert len(files) >= 8
    assert forbidden_imports(files) == []
