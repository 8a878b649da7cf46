"""Action spaces and normalisation: seed defaults, round trips, persistence."""

import numpy as np
import pytest
from vla_policy_node.policies import (action_space, CheckpointError, ConfigError,
                                      gripper_01_to_pm1, gripper_pm1_to_01, Normalizer)


def test_spaces():
    base, arm = action_space('base'), action_space('arm')
    assert base.names == ('linear_x', 'linear_y', 'angular_z') and base.dims == 3
    assert base.gripper_index is None
    assert arm.dims == 7 and arm.gripper_index == 6 and arm.continuous_indices == tuple(range(6))
    with pytest.raises(ConfigError):
        action_space('legs')


def test_arm_default_follows_the_seed():
    n = Normalizer.default('arm')
    raw = np.array([0.65, -0.65, 0.325, 1.0, -2.0, 0.0, 1.0])
    norm = n.normalize_action(raw)
    np.testing.assert_allclose(norm, [1, -1, 0.5, 1, -1, 0, 1])  # clipped to +-0.65
    np.testing.assert_allclose(n.denormalize_action(norm)[:6], [0.65, -0.65, 0.325, 0.65,
                                                                -0.65, 0.0])
    # gripper: model range [-1, 1] -> command range [0, 1]
    assert n.denormalize_action(np.array([0, 0, 0, 0, 0, 0, -1.0]))[6] == 0.0
    assert n.denormalize_action(np.array([0, 0, 0, 0, 0, 0, 1.0]))[6] == 1.0
    assert gripper_pm1_to_01(-1.0) == 0.0 and gripper_01_to_pm1(1.0) == 1.0


def test_round_trip_within_bounds_numpy_and_torch():
    import torch

    rng = np.random.default_rng(0)
    for space in ('base', 'arm'):
        n = Normalizer.default(space)
        a = rng.uniform(n.low, n.high, size=(50, n.spec.dims))
        np.testing.assert_allclose(n.denormalize_action(n.normalize_action(a)), a, atol=1e-12)
        t = torch.tensor(a, dtype=torch.float32)
        back = n.denormalize_action(n.normalize_action(t))
        assert isinstance(back, torch.Tensor)
        np.testing.assert_allclose(back.numpy(), a, atol=1e-6)


def test_fit_is_symmetric_and_keeps_zero():
    rng = np.random.default_rng(1)
    actions = np.stack([rng.uniform(0.0, 0.4, 500), rng.uniform(-0.2, 0.3, 500),
                        rng.uniform(-0.8, 0.8, 500)], axis=1)
    states = rng.normal(1.0, 2.0, size=(500, 3))
    n = Normalizer.fit('base', actions, states)
    np.testing.assert_allclose(n.normalize_action(np.zeros(3)), 0.0)
    assert np.all(n.high >= actions.max(axis=0)) and np.all(n.low <= actions.min(axis=0))
    np.testing.assert_allclose(n.normalize_state(states).mean(axis=0), 0.0, atol=1e-9)
    arm = Normalizer.fit('arm', rng.uniform(-0.1, 0.1, (20, 7)))
    assert (arm.low[6], arm.high[6]) == (0.0, 1.0)


def test_persistence_and_errors(tmp_path):
    n = Normalizer.default('base', state_dim=3)
    n.save(str(tmp_path / 'n.json'))
    m = Normalizer.load(str(tmp_path / 'n.json'))
    np.testing.assert_array_equal(m.low, n.low)
    assert m.state_dim == 3
    with pytest.raises(CheckpointError, match='missing'):
        Normalizer.load(str(tmp_path / 'absent.json'))
    (tmp_path / 'bad.json').write_text('{"action_space": "base"')
    with pytest.raises(CheckpointError, match='cannot read'):
        Normalizer.load(str(tmp_path / 'bad.json'))
    with pytest.raises(ConfigError, match='high > low'):
        Normalizer(action_space('base'), [0, 0, 0], [0, 1, 1])
    with pytest.raises(ConfigError, match='3 low/high'):
        Normalizer(action_space('base'), [0, 0], [1, 1])
