"""The RealMan arm table against RealMan's URDFs, and its kinematics."""

import math

import numpy as np
import pytest
from vla_common.arm_models import (ARM_MODELS, arm_model, compose_delta, Kinematics,
                                   matrix_to_quaternion, quaternion_to_matrix, rpy_matrix,
                                   UnknownArmModel)


def test_the_three_models_and_their_driver_names():
    assert {n: (m.dof, m.driver_type) for n, m in ARM_MODELS.items()} == {
        'RM65': (6, 'RM_65'), 'RM75': (7, 'RM_75'), 'GEN72': (7, 'GEN_72')}
    for m in ARM_MODELS.values():
        assert m.joint_names == tuple(f'joint{i}' for i in range(1, m.dof + 1))
        assert len(m.links) == m.dof + 1
        assert all(lo < hi for lo, hi in zip(m.lower, m.upper))


def test_spot_values_from_the_urdfs():
    rm75 = arm_model('RM75')
    j1 = rm75.joints[0]
    assert (j1.xyz, j1.axis, j1.lower, j1.upper, j1.velocity) == (
        (0, 0, 0.2405), (0, -1, 0), -3.1, 3.1, 3.14)
    assert rm75.joints[6].xyz == (0, 0, 0.144) and rm75.upper[6] == 6.28
    rm65 = arm_model('RM65')
    assert rm65.joints[2].xyz == (0.256, 0, 0) and rm65.joints[3].xyz == (0, -0.21, 0)
    assert rm65.upper == (3.1, 2.268, 2.355, 3.1, 2.233, 6.28)
    gen72 = arm_model('GEN72')
    assert (gen72.lower[3], gen72.upper[3]) == (-2.8792, 0.9597)     # asymmetric joint 4
    assert (gen72.lower[5], gen72.upper[5]) == (-1.707, 1.783)
    assert gen72.joints[6].rpy == (1.5708, 0, 1.5708)


def test_unknown_model_is_refused_with_the_supported_names():
    with pytest.raises(UnknownArmModel, match='GEN72, RM65, RM75'):
        arm_model('UR5')


@pytest.mark.parametrize('name', sorted(ARM_MODELS))
def test_straight_arm_height_is_the_sum_of_the_links(name):
    kin = Kinematics(arm_model(name))
    if name != 'GEN72':     # RM65 / RM75 stand straight up at zero
        height = 0.2405 + 0.256 + 0.21 + 0.144
        assert kin.position([0.0] * kin.dof) == pytest.approx((0, 0, height), abs=1e-4)


@pytest.mark.parametrize('name', sorted(ARM_MODELS))
def test_jacobian_matches_finite_differences(name):
    kin = Kinematics(arm_model(name), (0.0, 0.0, 0.115))
    q = np.random.default_rng(1).uniform(-1, 1, kin.dof)
    jac, p, _ = kin.jacobian(q)
    for i in range(kin.dof):
        dq = np.zeros(kin.dof)
        dq[i] = 1e-6
        num = (np.array(kin.position(q + dq)) - p) / 1e-6
        assert num == pytest.approx(jac[:3, i], abs=1e-5)


@pytest.mark.parametrize('name', sorted(ARM_MODELS))
def test_inverse_kinematics_round_trip(name):
    kin = Kinematics(arm_model(name), (0.0, 0.0, 0.115))
    rng = np.random.default_rng(2)
    q0 = rng.uniform(np.array(kin.model.lower) * 0.5, np.array(kin.model.upper) * 0.5)
    p0, r0 = kin.pose(q0)
    target = p0 + np.array([0.01, -0.01, 0.005])
    q, perr, rerr = kin.inverse(target, r0, q0, rest=q0)
    assert q is not None, (perr, rerr)
    p, r = kin.pose(q)
    assert p == pytest.approx(target, abs=2e-4) and r == pytest.approx(r0, abs=2e-3)
    assert all(lo <= v <= hi for v, lo, hi in zip(q, kin.model.lower, kin.model.upper))


def test_unreachable_pose_is_not_solved():
    kin = Kinematics(arm_model('RM75'))
    q, perr, _ = kin.inverse((2.0, 0.0, 0.3), np.eye(3), [0.1] * 7)
    assert q is None and perr > 0.5


def test_quaternions_and_delta_composition():
    r = rpy_matrix(0.3, -0.2, 1.1)
    assert quaternion_to_matrix(matrix_to_quaternion(r)) == pytest.approx(r, abs=1e-12)
    delta = [0.01, -0.02, 0.03, 0, 0, math.pi / 2]
    p, q = compose_delta((0.3, 0.0, 0.2), (0.0, 0.0, 0.0, 1.0), delta)
    assert p == pytest.approx((0.31, -0.02, 0.23))
    assert q == pytest.approx((0, 0, math.sin(math.pi / 4), math.cos(math.pi / 4)))
    with pytest.raises(ValueError):
        quaternion_to_matrix((0, 0, 0, 0))
