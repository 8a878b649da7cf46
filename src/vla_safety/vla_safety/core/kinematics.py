"""Forward kinematics of the arm's tool point, for the gate's workspace box.

The gate uses it to know where the end effector is (from `joint_states`) so the workspace
box can be enforced for end-effector deltas and for joint-position targets. The chains come
from the one table of RealMan arms (`vla_common.arm_models`: joint origins, axes and limits
from RealMan's URDFs), which the arm simulator builds its model from too.
"""

from __future__ import annotations

from typing import Sequence, Tuple

from vla_common.arm_models import arm_model, Kinematics

Vec3 = Tuple[float, float, float]


class ForwardKinematics:
    """Tool-point position in the arm base frame for a joint vector of the model `model`."""

    def __init__(self, model: str, tool_offset: Vec3 = (0.0, 0.0, 0.0)) -> None:
        self._kin = Kinematics(arm_model(model), tool_offset)

    @property
    def dof(self) -> int:
        return self._kin.dof

    def position(self, q: Sequence[float]) -> Vec3:
        return self._kin.position(q)


__all__ = ['ForwardKinematics']
