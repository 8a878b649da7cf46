"""The scripted expert of the tabletop tasks, acting in the policy's own action space (pure).

Every control tick it returns what the policy returns: an end-effector delta
[dx, dy, dz, droll, dpitch, dyaw] in the arm base frame (metres and radians per control tick)
and a gripper command (0 open ... 1 closed). It plans Cartesian waypoints for the tool point
from the scene (rebuilt from task and seed, like the mobile expert) and closes the loop on the
measured tool pose (`/rm_driver/udp_arm_position`); the RealMan controller's inverse
kinematics (emulated by the simulator) turns the resulting poses into joint motion.

Waypoints: above the object -> down to grasp height -> close -> lift -> above the goal ->
down to release height -> open -> up -> home -> hold still (`hold_time`), then `done`.
Reach tasks: above the object, then hold. The translation per tick is at most
`speed / control_rate` (direction kept); the rotation part only corrects drift back to the
tool-down orientation. Optional Ornstein-Uhlenbeck noise on the translation (`noise_std`)
gives demonstrations with recoveries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
from vla_common.arm_models import quaternion_to_matrix, rotation_error

from arm_sim.core.scene import (DOWN, goal_placement, HOME_TCP, object_height, PLATE_HEIGHT,
                                Scene, TRAY_FLOOR)

Vec3 = Tuple[float, float, float]


@dataclass(frozen=True)
class ExpertConfig:
    control_rate: float = 10.0     # Hz: one action per tick
    speed: float = 0.08            # m/s of the tool point
    tolerance: float = 0.004       # m: a waypoint is reached
    hover: float = 0.08            # m above an object's top when approaching it
    carry_z: float = 0.15          # m, tool point height while carrying
    release_gap: float = 0.012     # m between the object's bottom and its support at release
    close_time: float = 0.8        # s with the gripper closing before lifting
    open_time: float = 0.6         # s with the gripper opening before rising
    hold_time: float = 1.5         # s of stillness at the end before `done`
    max_rotation: float = 0.02     # rad per tick of orientation correction
    noise_std: float = 0.0         # m/s, OU exploration noise on the translation
    noise_theta: float = 1.5       # 1/s, OU mean reversion
    noise_seed: int = 0


@dataclass(frozen=True)
class Phase:
    name: str
    target: Optional[Vec3]       # tool point waypoint, None = stay
    gripper: float               # 0 open, 1 closed
    duration: float = 0.0        # s to wait once there (or with target None)


@dataclass(frozen=True)
class ExpertAction:
    delta: Tuple[float, ...]     # 6 values, per tick
    gripper: float
    phase: str
    done: bool


def plan(scene: Scene, config: ExpertConfig = ExpertConfig(),
         home: Vec3 = HOME_TCP) -> List[Phase]:
    """The phases of `scene`'s task."""
    task = scene.task
    obj = scene.target
    h = object_height(task.target)
    above_obj = (obj.x, obj.y, max(h + config.hover, config.carry_z - 0.03))
    if task.kind == 'reach':
        return [Phase('approach', above_obj, 0.0),
                Phase('hold', None, 0.0, config.hold_time)]
    goal = goal_placement(scene)
    assert goal is not None
    support = 0.0
    if task.kind == 'place':
        support = TRAY_FLOOR if task.goal == 'tray' else PLATE_HEIGHT
    grasp_z = 0.5 * h + 0.002
    release_z = support + 0.5 * h + config.release_gap + 0.002
    return [
        Phase('approach', above_obj, 0.0),
        Phase('descend', (obj.x, obj.y, grasp_z), 0.0),
        Phase('close', None, 1.0, config.close_time),
        Phase('lift', (obj.x, obj.y, config.carry_z), 1.0),
        Phase('carry', (goal.x, goal.y, config.carry_z), 1.0),
        Phase('lower', (goal.x, goal.y, release_z), 1.0),
        Phase('open', None, 0.0, config.open_time),
        Phase('rise', (goal.x, goal.y, config.carry_z + 0.01), 0.0),
        Phase('retract', tuple(home), 0.0),
        Phase('hold', None, 0.0, config.hold_time),
    ]


class ScriptedExpert:
    """Call `act(tool_position, tool_quaternion)` once per control tick."""

    def __init__(self, scene: Scene, config: ExpertConfig = ExpertConfig(),
                 home: Vec3 = HOME_TCP) -> None:
        self.scene = scene
        self.config = config
        self.phases = plan(scene, config, home)
        self.index = 0
        self._waited = 0.0
        self._noise = np.zeros(3)
        self._rng = np.random.default_rng(scene.key + [int(config.noise_seed), 5])
        self.done = False

    @property
    def phase(self) -> Phase:
        return self.phases[min(self.index, len(self.phases) - 1)]

    def _step_noise(self, dt: float) -> np.ndarray:
        cfg = self.config
        if cfg.noise_std <= 0.0:
            return np.zeros(3)
        sigma = cfg.noise_std * math.sqrt(2.0 * cfg.noise_theta)
        self._noise += -cfg.noise_theta * self._noise * dt \
            + sigma * math.sqrt(dt) * self._rng.normal(size=3)
        return self._noise * dt

    def act(self, position: Sequence[float], quaternion: Sequence[float]) -> ExpertAction:
        cfg = self.config
        dt = 1.0 / cfg.control_rate
        p = np.asarray(position, dtype=np.float64)
        rot = rotation_error(quaternion_to_matrix(quaternion), DOWN)
        angle = float(np.linalg.norm(rot))
        if angle > cfg.max_rotation:
            rot *= cfg.max_rotation / angle
        while True:
            phase = self.phase
            if self.done:
                return ExpertAction((0.0,) * 6, phase.gripper, phase.name, True)
            if phase.target is not None:
                err = np.asarray(phase.target) - p
                dist = float(np.linalg.norm(err))
                if dist > cfg.tolerance:
                    step = cfg.speed * dt
                    move = err if dist <= step else err * (step / dist)
                    move = move + self._step_noise(dt)
                    return ExpertAction(tuple(move) + tuple(rot), phase.gripper,
                                        phase.name, False)
            if self._waited < phase.duration - 1e-9:
                self._waited += dt
                still = tuple(rot) if phase.name != 'hold' else (0.0, 0.0, 0.0)
                return ExpertAction((0.0, 0.0, 0.0) + still, phase.gripper, phase.name,
                                    False)
            if self.index >= len(self.phases) - 1:
                self.done = True
                continue
            self.index += 1
            self._waited = 0.0


__all__ = ['ExpertAction', 'ExpertConfig', 'Phase', 'ScriptedExpert', 'plan']
