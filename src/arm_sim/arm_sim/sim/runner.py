"""Closed-loop episodes by direct stepping (no ROS): expert checks, benchmarks, plots.

`run_episode` plays a controller the way the stack does, without the processes: once per
control tick the controller sees the measured tool pose and returns an end-effector delta
and a gripper command; the delta is composed onto the measured pose (what `realman_bridge`
sends as `movep_canfd_cmd`) and the gripper command becomes an opening (the bridge's
`set_gripper_position_cmd`). The gate is not in this loop (its step cap is far above the
expert's speed); the ROS tests put it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import numpy as np
from vla_common.arm_models import compose_delta

from arm_sim.core.driver import GRIPPER_MAX_OPENING
from arm_sim.core.expert import ExpertAction, ExpertConfig, ScriptedExpert
from arm_sim.core.judge import Verdict
from arm_sim.core.scene import make_scene
from arm_sim.sim.world import ArmWorld, CONTROL_RATE

Controller = Callable[[Tuple[float, float, float], Tuple[float, float, float, float]],
                      ExpertAction]


@dataclass
class EpisodeTrace:
    verdict: Verdict
    tcp: List[Tuple[float, float, float]] = field(default_factory=list)
    actions: List[ExpertAction] = field(default_factory=list)
    images: List[np.ndarray] = field(default_factory=list)


def gripper_to_opening(command: float) -> float:
    """ArmCommand.gripper (0 open .. 1 closed) -> opening (m)."""
    return GRIPPER_MAX_OPENING * (1.0 - min(1.0, max(0.0, float(command))))


def run_episode(world: ArmWorld, controller: Controller, control_rate: float = 10.0,
                render_every: int = 0, max_time: Optional[float] = None) -> EpisodeTrace:
    """Run the world's episode with `controller` until it says done or time runs out."""
    if world.scene is None:
        raise RuntimeError('reset the world first')
    world.start_clock()
    ticks = max(1, int(round(CONTROL_RATE / control_rate)))
    substeps = max(1, int(round(world.options.physics_rate / CONTROL_RATE)))
    limit = max_time if max_time is not None else world.scene.time_limit
    trace = EpisodeTrace(world.verdict)
    k = 0
    while not world.done and world.episode_time < limit:
        position, quaternion = world.tool_pose()
        action = controller(position, quaternion)
        trace.tcp.append(position)
        trace.actions.append(action)
        if render_every and k % render_every == 0:
            trace.images.append(world.render())
        if action.done:
            break
        if any(abs(v) > 0.0 for v in action.delta):
            pose = compose_delta(position, quaternion, action.delta)
            world.command_pose(*pose)
        world.command_gripper(gripper_to_opening(action.gripper))
        for _ in range(ticks):
            world.step(substeps)
        k += 1
    trace.verdict = world.finish('policy' if trace.actions and trace.actions[-1].done
                                 else 'timeout')
    return trace


def run_expert(world: ArmWorld, task: str, seed: int,
               config: Optional[ExpertConfig] = None, render_every: int = 0) -> EpisodeTrace:
    """Start `task` with `seed` and drive it with the scripted expert."""
    scene = make_scene(task, seed)
    world.reset(scene)
    expert = ScriptedExpert(scene, config or ExpertConfig())
    return run_episode(world, expert.act, expert.config.control_rate, render_every)


__all__ = ['EpisodeTrace', 'gripper_to_opening', 'run_episode', 'run_expert']
