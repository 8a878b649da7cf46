"""The MuJoCo world of one navigation episode: physics, camera, scan, odometry, episode result.

No ROS here: the `mujoco_sim` node wraps this class; tests and benchmarks step it directly.
All rendering must happen in the thread that created the world's renderer (OpenGL contexts
are per thread), so the node owns one simulation thread that does everything.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace
from typing import Optional, Sequence, Tuple

import numpy as np
from vla_common.mujoco_render import mujoco, SimWorld
from vla_common.planar import Twist2D, ZERO_TWIST

from mobile_base.core.episode import EpisodeMonitor, EpisodeSummary, Outcome
from mobile_base.core.geometry import Pose2D, rotate, wrap_angle
from mobile_base.core.odometry import OdometryIntegrator, OdometryState
from mobile_base.core.robot import DEFAULT_ROBOT, RobotSpec
from mobile_base.core.scenarios import PLACEMENTS, resolve_scenario, ScenarioInstance
from mobile_base.sim.mjcf import (BASE_BODY, build_mjcf, CAMERA, CHASSIS_GEOM,
                                  GROUP_OBSTACLES, LASER_SITE)
from mobile_base.sim.scene import (ADDED_BOX, apply_camera_effects, camera_effects,
                                   distractors, LIGHTINGS, PALETTES, PERTURBATIONS,
                                   perturbation_plan, PerturbationPlan, scene_appearance)


@dataclass(frozen=True)
class SimOptions:
    """Simulator settings that are not part of the scenario."""

    image_width: int = 224
    image_height: int = 224
    physics_rate: float = 500.0       # Hz (timestep = 1 / rate)
    cmd_timeout: float = 0.5          # s of sim time; older commands are replaced by zero
    visual_jitter: float = 0.0        # 0..1: colour / light randomisation per seed
    palette: str = 'train'            # 'train' | 'held_out' colours and textures (scene.py)
    lighting: str = 'train'           # 'train' | 'shifted' (outside train's) | 'wide' (both)
    camera_noise: float = 0.0         # max std of pixel noise (8-bit units), per episode
    camera_blur: float = 0.0          # max Gaussian blur sigma (px at 224 px), per episode
    distractor_prob: float = 0.0      # chance of one distractor object beside the route
    perturbation: str = 'none'        # mid-episode change: none|box_moved|box_added|mixed
    placement: str = 'plain'          # seed namespace of the placements (scenarios.PLACEMENTS)
    layout_spread: float = 1.0        # box and cup ranges widened by this factor
    start_noise: Tuple[float, float, float] = (0.0, 0.0, 0.0)  # std of start x, y, yaw
    odom_noise: float = 0.0           # relative std of the odometry's velocity measurements
    scan_noise: float = 0.0           # m, std of range noise
    base_gain: float = 20.0           # 1/s, bandwidth of the base velocity loops
    # Zero the base once the episode has ended. Off by default: the simulator judges, it does
    # not finish a task; the policy must stop the robot itself.
    hold_after_end: bool = False

    def validate(self) -> 'SimOptions':
        if not (16 <= self.image_width <= 4096 and 16 <= self.image_height <= 4096):
            raise ValueError(f'image size {self.image_width}x{self.image_height} out of range')
        if not (50.0 <= self.physics_rate <= 5000.0):
            raise ValueError(f'physics_rate {self.physics_rate} Hz out of [50, 5000]')
        if self.cmd_timeout <= 0.0:
            raise ValueError('cmd_timeout must be positive')
        if self.placement not in PLACEMENTS or not self.layout_spread > 0.0:
            raise ValueError(f'placement must be one of {PLACEMENTS} and layout_spread > 0')
        for name, value, allowed in (('palette', self.palette, PALETTES),
                                     ('lighting', self.lighting, LIGHTINGS),
                                     ('perturbation', self.perturbation, PERTURBATIONS)):
            if value not in allowed:
                raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
        if not (0.0 <= self.distractor_prob <= 1.0) or self.camera_noise < 0.0 \
                or self.camera_blur < 0.0:
            raise ValueError('distractor_prob must be in [0, 1], camera noise/blur >= 0')
        return self


class MujocoWorld(SimWorld):
    """One simulated base in a scenario. `reset(instance)` starts an episode."""

    def __init__(self, options: SimOptions = SimOptions(),
                 robot: RobotSpec = DEFAULT_ROBOT) -> None:
        super().__init__()
        self.options = options.validate()
        self.robot = robot
        self.instance: Optional[ScenarioInstance] = None
        self.monitor: Optional[EpisodeMonitor] = None
        self.odometry = OdometryIntegrator()
        self._episode_start = 0.0
        self._cmd = ZERO_TWIST
        self._cmd_time = -math.inf
        self._last_twist = ZERO_TWIST
        self._rng = np.random.default_rng(0)
        self._scan_dirs: Optional[np.ndarray] = None
        self._scan_angles = np.arange(360) * robot.scan_increment - math.pi
        self._perturbation: Optional[PerturbationPlan] = None
        self._camera_noise = self._camera_blur = 0.0

    # --- Episode -------------------------------------------------------------------------------
    def start(self, scenario: str, seed: int,
              extra_dirs: Sequence[str] = ()) -> ScenarioInstance:
        """Resolve a scenario (name or YAML path), sample it with the options' start noise,
        placement namespace and spread, reset."""
        opts = self.options
        instance = resolve_scenario(scenario, extra_dirs).sample(
            seed, opts.start_noise, opts.placement, opts.layout_spread)
        self.reset(instance)
        return instance

    def reset(self, instance: ScenarioInstance, wait_for_instruction: bool = False) -> None:
        """Build the scenario's model and put the robot at its start pose.

        The episode clock starts now, or with `wait_for_instruction` at `start_task()` (the
        simulator node calls it when the episode's first instruction arrives).
        """
        opts = self.options
        seed = instance.seed
        self._perturbation = perturbation_plan(
            instance, seed, opts.perturbation)
        spare = [ADDED_BOX] if self._perturbation and self._perturbation.kind == 'box_added' \
            else []
        xml = build_mjcf(instance, self.robot, (opts.image_width, opts.image_height),
                         1.0 / opts.physics_rate,
                         scene_appearance(seed, opts.visual_jitter, opts.palette, opts.lighting),
                         opts.base_gain, distractors(instance, seed, opts.distractor_prob,
                                                     opts.palette), spare)
        self._camera_noise, self._camera_blur = camera_effects(seed, opts.camera_noise,
                                                               opts.camera_blur)
        model, data = self.load(xml)
        data.qpos[:3] = (instance.start.x, instance.start.y, instance.start.yaw)
        mujoco.mj_forward(model, data)
        self.instance = instance
        self._base_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, BASE_BODY)
        self._chassis_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, CHASSIS_GEOM)
        self._laser_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, LASER_SITE)
        self._obstacle_geoms = {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f'obstacle_{i}')
                                for i in range(len(instance.obstacles))}
        self._episode_start = self.time
        self.monitor = EpisodeMonitor(instance, self.robot, started=not wait_for_instruction)
        self.monitor.update(0.0, instance.start)
        self.odometry.reset(Pose2D(), self.time)
        self._cmd, self._cmd_time = ZERO_TWIST, -math.inf
        self._last_twist = self.ground_truth_twist()
        self._rng = np.random.default_rng([instance.seed, 3])

    @property
    def episode_time(self) -> float:
        """Sim seconds since the episode was reset."""
        return self.time - self._episode_start

    @property
    def task_started(self) -> bool:
        return self.monitor is not None and self.monitor.started

    def start_task(self) -> bool:
        """Start the episode clock now (the task was given); False if it already runs."""
        self._require()
        assert self.monitor is not None
        return self.monitor.start_task(self.episode_time)

    @property
    def done(self) -> bool:
        return self.monitor is not None and self.monitor.done

    @property
    def outcome(self) -> Outcome:
        return self.monitor.outcome if self.monitor is not None else Outcome.RUNNING

    def summary(self) -> EpisodeSummary:
        self._require()
        assert self.monitor is not None
        return self.monitor.summary()

    # --- Commands and stepping -----------------------------------------------------------------
    def set_command(self, twist: Twist2D) -> None:
        """Body-frame velocity target; NaN/Inf is refused (zero), it expires after cmd_timeout."""
        self._cmd = twist if twist.is_finite() else ZERO_TWIST
        self._cmd_time = self.time

    def active_command(self) -> Twist2D:
        """The command the base is tracking now (zero if stale or the episode ended)."""
        if self.time - self._cmd_time > self.options.cmd_timeout:
            return ZERO_TWIST
        if self.done and self.options.hold_after_end:
            return ZERO_TWIST
        return self._cmd

    def step(self, n: int = 1) -> None:
        """Advance `n` physics steps, then update odometry and the episode monitor."""
        self._require()
        model, data = self.model, self.data
        for _ in range(n):
            cmd = self.active_command()      # re-checked every step: it may expire mid-call
            yaw = float(data.qpos[2])
            vxw, vyw = rotate(cmd.vx, cmd.vy, yaw)
            data.ctrl[0], data.ctrl[1], data.ctrl[2] = vxw, vyw, cmd.wz
            mujoco.mj_step(model, data)
        self.steps += n
        measured = self.ground_truth_twist()
        prev, self._last_twist = self._last_twist, measured
        # Trapezoid: the velocity changed over the interval; the mean is what moved the base.
        twist = Twist2D(0.5 * (prev.vx + measured.vx), 0.5 * (prev.vy + measured.vy),
                        0.5 * (prev.wz + measured.wz))
        if self.options.odom_noise > 0.0:
            k = 1.0 + self.options.odom_noise * self._rng.normal(size=3)
            twist = Twist2D(twist.vx * k[0], twist.vy * k[1], twist.wz * k[2])
        self.odometry.update_twist(twist, self.time)
        assert self.monitor is not None
        was_done = self.monitor.done
        pose = self.ground_truth_pose()
        self._maybe_perturb(pose)
        self.monitor.update(self.episode_time, pose, self.in_contact())
        if self.monitor.done and not was_done and self.options.hold_after_end:
            data.ctrl[:] = 0.0

    def _maybe_perturb(self, pose: Pose2D) -> None:
        """Change the layout once the robot reaches the plan's trigger (task running)."""
        plan, inst = self._perturbation, self.instance
        if plan is None or inst is None or not self.task_started or self.done:
            return
        if inst.route_coordinates(pose.x, pose.y)[0] < plan.trigger_along:
            return
        self._perturbation = None
        n = len(inst.obstacles)
        name = f'obstacle_{plan.index}' if plan.index < n else f'spare_{plan.index - n}'
        body = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)
        ob = plan.obstacle
        self.model.body_pos[body] = (ob.x, ob.y, 0.5 * ob.height)
        self.model.body_quat[body] = (math.cos(0.5 * ob.yaw), 0.0, 0.0, math.sin(0.5 * ob.yaw))
        mujoco.mj_forward(self.model, self.data)
        if plan.index >= n:
            self._obstacle_geoms.add(mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM,
                                                       name))
        self.instance = dataclasses.replace(inst, obstacles=plan.apply(inst.obstacles))
        assert self.monitor is not None
        self.monitor.replace_obstacles(self.instance.obstacles, plan.kind)

    def step_for(self, duration: float) -> None:
        """Advance by `duration` seconds of sim time (rounded to whole physics steps)."""
        self.step(max(1, int(round(duration * self.options.physics_rate))))

    # --- State ---------------------------------------------------------------------------------
    def ground_truth_pose(self) -> Pose2D:
        q = self.data.qpos
        return Pose2D(float(q[0]), float(q[1]), wrap_angle(float(q[2])))

    def ground_truth_twist(self) -> Twist2D:
        """Body-frame velocity of the base."""
        v = self.data.qvel
        vx, vy = rotate(float(v[0]), float(v[1]), -float(self.data.qpos[2]))
        return Twist2D(vx, vy, float(v[2]))

    def odometry_state(self) -> OdometryState:
        """Odometry in the `odom` frame (origin = this episode's start pose)."""
        return self.odometry.state()

    def in_contact(self) -> bool:
        """True if the robot body touches an obstacle."""
        data = self.data
        for i in range(data.ncon):
            c = data.contact[i]
            g1, g2 = int(c.geom1), int(c.geom2)
            if (g1 == self._chassis_id and g2 in self._obstacle_geoms) or \
                    (g2 == self._chassis_id and g1 in self._obstacle_geoms):
                return True
        return False

    # --- Sensors -------------------------------------------------------------------------------
    def render(self) -> np.ndarray:
        """RGB image (H, W, 3) uint8 from the forward camera."""
        rgb = self.render_camera(CAMERA)
        if self._camera_noise > 0.0 or self._camera_blur > 0.0:
            rgb = apply_camera_effects(rgb, self._camera_noise, self._camera_blur, self._rng)
        return rgb

    def scan(self) -> np.ndarray:
        """360 ranges (m), angle -pi + i * 1 deg in the laser frame; inf = nothing in range.

        Hits nearer than range_min are -inf (REP-117).
        """
        self._require()
        model, data, robot = self.model, self.data, self.robot
        n = len(self._scan_angles)
        yaw = float(data.qpos[2])
        angles = self._scan_angles + yaw
        vec = np.zeros((n, 3))
        vec[:, 0], vec[:, 1] = np.cos(angles), np.sin(angles)
        dist = np.zeros(n)
        geomid = np.zeros(n, dtype=np.int32)
        groups = np.zeros(6, dtype=np.uint8)
        groups[GROUP_OBSTACLES] = 1
        pnt = np.array(data.site_xpos[self._laser_id], dtype=np.float64)
        mujoco.mj_multiRay(model, data, pnt, vec.reshape(-1), groups, True, self._base_id,
                           geomid, dist, None, n, robot.scan_range_max)
        ranges = np.where(dist < 0.0, np.inf, dist)
        if self.options.scan_noise > 0.0:
            finite = np.isfinite(ranges)
            ranges[finite] += self._rng.normal(0.0, self.options.scan_noise, finite.sum())
        ranges[ranges > robot.scan_range_max] = np.inf
        ranges[ranges < robot.scan_range_min] = -np.inf
        return ranges

    @property
    def scan_angles(self) -> np.ndarray:
        """Beam angles (rad) in the laser frame."""
        return self._scan_angles.copy()


def with_image_size(options: SimOptions, width: int, height: int) -> SimOptions:
    """A copy of `options` with another camera resolution."""
    return replace(options, image_width=width, image_height=height)
