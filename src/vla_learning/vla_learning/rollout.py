"""Closed loop by direct MuJoCo stepping with the policy library (no ROS): quick checks.

Mimics the policy node's event-triggered execution: 10 Hz control, a chunk predicted on the
current camera frame whenever `queue_threshold` or fewer actions remain (the frame enters the
history window at each inference, as with `history_rate: 0`), the queued actions executed one
per 0.1 s. There is no safety gate here (the real-stack evaluation has one), so this is a
faster, stricter-in-speed approximation used by the grounding test and for quick looks.
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
    actions: List[List[float]] = field(default_factory=list)   # executed, one per 0.1 s
    poses: List[List[float]] = field(default_factory=list)     # x, y, yaw per 0.1 s


def make_world(image_size: int = 224):
    from mobile_base.sim.world import MujocoWorld, SimOptions

    return MujocoWorld(SimOptions(image_width=image_size, image_height=image_size))


def rollout(policy, world, scenario: str, seed: int, instruction: str,
            max_time: Optional[float] = None, queue_threshold: int = 3,
            control_rate: float = 10.0) -> Rollout:
    from mobile_base.core.kinematics import Twist2D
    from vla_policy_node.policies import Observation

    # Both texts, as the instruction node would publish them; the policy reads the one its
    # config names (condition_on).
    canonical = canonical_text(instruction)
    instance = world.start(scenario, seed)
    policy.reset()
    limit = instance.time_limit if max_time is None else max_time
    substeps = max(1, int(round(world.options.physics_rate / control_rate)))
    queue: List[np.ndarray] = []
    out = Rollout(scenario, seed, instruction)
    while not world.done and world.episode_time < limit - 1e-9:
        if len(queue) <= queue_threshold:
            chunk = policy.predict_action_chunk(Observation(world.render(), instruction,
                                                            canonical))
            queue = [np.asarray(a, np.float64) for a in chunk]
            out.inferences += 1
        a = queue.pop(0)
        pose = world.ground_truth_pose()
        out.poses.append([pose.x, pose.y, pose.yaw])
        out.actions.append([float(v) for v in a])
        world.set_command(Twist2D(float(a[0]), float(a[1]), float(a[2])))
        world.step(substeps)
    s = world.summary()
    out.outcome = s.outcome.name.lower()
    out.passed_side = s.passed_side.name.lower()
    out.commanded_side = s.commanded_side.name.lower()
    out.success = bool(s.success)
    out.time = float(s.time)
    return out
