"""Closed-loop episodes by direct stepping (no ROS): expert checks, benchmarks, quick data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import numpy as np
from vla_common.planar import Twist2D

from mobile_base.core.episode import EpisodeSummary
from mobile_base.core.expert import ExpertConfig, ScriptedExpert
from mobile_base.core.geometry import Pose2D
from mobile_base.sim.world import MujocoWorld

Controller = Callable[[Pose2D, float], Twist2D]


@dataclass
class EpisodeTrace:
    """What happened in one episode: summary plus per-control-step poses and commands."""

    summary: EpisodeSummary
    poses: List[Pose2D] = field(default_factory=list)
    commands: List[Twist2D] = field(default_factory=list)
    images: List[np.ndarray] = field(default_factory=list)


def run_episode(world: MujocoWorld, controller: Controller, control_rate: float = 20.0,
                render_every: int = 0, max_time: Optional[float] = None) -> EpisodeTrace:
    """Run the world's current episode with `controller(pose, t)` until it ends.

    The controller sees the ground-truth pose at `control_rate` Hz of sim time. With
    `render_every` = k > 0 a camera frame is kept every k control steps.
    """
    if world.instance is None:
        raise RuntimeError('start an episode first')
    substeps = max(1, int(round(world.options.physics_rate / control_rate)))
    limit = max_time if max_time is not None else world.instance.time_limit + 1.0
    trace = EpisodeTrace(world.summary())
    k = 0
    while not world.done and world.episode_time < limit:
        pose = world.ground_truth_pose()
        cmd = controller(pose, world.episode_time)
        trace.poses.append(pose)
        trace.commands.append(cmd)
        if render_every and k % render_every == 0:
            trace.images.append(world.render())
        world.set_command(cmd)
        world.step(substeps)
        k += 1
    trace.summary = world.summary()
    return trace


def run_expert(world: MujocoWorld, scenario: str, seed: int,
               config: Optional[ExpertConfig] = None, control_rate: float = 20.0,
               extra_dirs: Sequence[str] = (), render_every: int = 0) -> EpisodeTrace:
    """Start `scenario` with `seed` and drive it with the scripted expert."""
    instance = world.start(scenario, seed, extra_dirs)
    expert = ScriptedExpert(instance, config, world.robot)
    return run_episode(world, expert.act, control_rate, render_every)
