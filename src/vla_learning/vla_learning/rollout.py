"""Closed loop by direct MuJoCo stepping with the policy library (no ROS): quick checks.

Runs the policy node's own executive (`vla_policy_node.execution.Lockstep`): the node's
triggers (instruction, scene and state changes, `queue_threshold` refills), latency-aligned
chunk blending and states, one action per control period, inference taking no simulated time.
There is no safety gate here (the real-stack evaluation has one), so this is a faster,
stricter-in-speed approximation used by the grounding test and for quick looks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from vla_learning.data import canonical_text


@dataclass
class Rollout:
    scenario: str
    seed: int
    instruction: str
    outcome: str = ''
    passed_side: str = ''
    commanded_side: str = ''
    success: bool = False
    time: float = 0.0
    inferences: int = 0
    task_result: str = ''   # how the policy ended the instruction ('done', ...); '' if it did not
    actions: List[List[float]] = field(default_factory=list)   # executed, one per 0.1 s
    poses: List[List[float]] = field(default_factory=list)     # x, y, yaw per 0.1 s


def make_world(image_size: int = 224):
    from mobile_base.sim.world import MujocoWorld, SimOptions

    return MujocoWorld(SimOptions(image_width=image_size, image_height=image_size))


def rollout(policy, world, scenario: str, seed: int, instruction: str,
            max_time: Optional[float] = None, config=None) -> Rollout:
    """One episode; `config` is an ExecutiveConfig (default: the policy node's defaults)."""
    from mobile_base.core.kinematics import Twist2D
    from vla_policy_node.execution import ExecutiveConfig, Lockstep

    config = config or ExecutiveConfig()
    # Both texts, as the instruction node would publish them; the policy reads the one its
    # config names (condition_on).
    canonical = canonical_text(instruction)
    instance = world.start(scenario, seed)
    limit = instance.time_limit if max_time is None else max_time
    substeps = max(1, int(round(world.options.physics_rate / config.control_rate)))
    loop = Lockstep(policy, config)
    loop.instruct(instruction, canonical)
    out = Rollout(scenario, seed, instruction)
    a = np.zeros(3)
    while not world.done and world.episode_time < limit - 1e-9:
        command = loop.step(world.render())
        a = a if command is None else np.asarray(command, np.float64)
        pose = world.ground_truth_pose()
        out.poses.append([pose.x, pose.y, pose.yaw])
        out.actions.append([float(v) for v in a])
        world.set_command(Twist2D(float(a[0]), float(a[1]), float(a[2])))
        world.step(substeps)
    out.inferences = loop.executive.counters['inferences']
    out.task_result = loop.result.result if loop.result else ''
    s = world.summary()
    out.outcome = s.outcome.name.lower()
    out.passed_side = s.passed_side.name.lower()
    out.commanded_side = s.commanded_side.name.lower()
    out.success = bool(s.success)
    out.time = float(s.time)
    return out
