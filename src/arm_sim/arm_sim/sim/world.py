"""The MuJoCo world of one tabletop episode: the arm under an emulated RealMan controller,
the gripper, the simplified grasp, the two cameras and the episode judge.

No ROS here: the `arm_sim` node wraps this class; tests and benchmarks step it directly.

The controller emulation (what RealMan's controller does with pass-through targets): a joint
target (from `movej_canfd_cmd`, or from the inverse kinematics of a `movep_canfd_cmd` pose) is
followed by a set-point; the joint servos track the set-point. In the low-following mode
(`follow` false, what realman_bridge sends) the controller interpolates the streamed points:
the set-point moves to each point in a straight line over `stream_period` (the stream's
period, 0.1 s for the 10 Hz policy), so a stream of small points is a smooth slow motion and
a point at the arm is no motion. In the high-following mode (`follow` true) it goes to each
point as fast as it may. Either way no joint moves faster than its URDF velocity times
`joint_speed_scale`. With no new point the arm holds the last one. `hard_stop()`
(`move_stop_cmd`) sets target and set-point to where the arm is now: it brakes and the old
target is discarded.

The simplified grasp (documented in docs/arm.md): when the gripper is closing (its target
opening is below its opening) and both fingers touch the same movable object, a weld
constraint fixes that object to the gripper at its current relative pose; commanding the
gripper open by more than 4 mm past where it stopped releases it. Contact forces still act,
so a missed grasp slides off and objects can be pushed over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from vla_common.arm_models import (arm_model, ArmModel, Kinematics, matrix_to_quaternion,
                                   quaternion_to_matrix)
from vla_common.mujoco_render import mujoco, SimWorld

from arm_sim.core.driver import DEGREE_RAD, GRIPPER_MAX_OPENING
from arm_sim.core.judge import Judge, ObjectState, Snapshot, Verdict
from arm_sim.core.scene import DOWN, HOME_TCP, Scene
from arm_sim.sim.mjcf import (build_mjcf, FINGER_TRAVEL, FINGERS, GRIPPER_BODY,
                              jittered_appearance, SCENE_CAMERA, TCP_SITE, TOOL_OFFSET,
                              WRIST_CAMERA)

#: Per model: a joint posture near the home pose (seed of its inverse kinematics and the
#: controller's preferred posture for a redundant arm) and the gripper's mounting yaw on the
#: flange that makes the tool frame's x axis point away from the base at home.
HOME_POSTURE: Dict[str, Tuple[Tuple[float, ...], float]] = {
    'RM75': ((0.0, 0.368, 0.0, 1.061, 0.0, 1.712, 0.0), math.pi),
    'RM65': ((0.0, -0.368, -1.061, 0.0, -1.712, 0.0), 0.0),
    'GEN72': ((0.0, -0.199, 0.0, -2.023, 0.0, 0.253, 0.0), 0.0),
}
RELEASE_MARGIN = 0.004      # m the gripper must open past its grasp width to let go
CONTROL_RATE = 100.0        # Hz: grasp checks and the judge (the node's tick)


def _rz(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class ArmSimOptions:
    """Simulator settings that are not part of the scene."""

    arm_model: str = 'RM75'
    image_width: int = 224
    image_height: int = 224
    physics_rate: float = 500.0       # Hz
    joint_speed_scale: float = 0.5    # fraction of the URDF joint velocities the servo uses
    stream_period: float = 0.1        # s over which a low-following pass-through point is spread
    gripper_speed: float = 0.10       # m/s of opening change
    visual_jitter: float = 0.0        # 0..1 colour / light randomisation per seed
    start_noise: float = 0.0          # m, std of the home tool point's offset per episode
    degree_rad: float = DEGREE_RAD    # rm_driver's deg -> rad factor for /joint_states

    def validate(self) -> 'ArmSimOptions':
        arm_model(self.arm_model)
        if not (16 <= self.image_width <= 4096 and 16 <= self.image_height <= 4096):
            raise ValueError(f'image size {self.image_width}x{self.image_height} out of range')
        if not 100.0 <= self.physics_rate <= 5000.0:
            raise ValueError(f'physics_rate {self.physics_rate} Hz out of [100, 5000]')
        if not 0.0 < self.joint_speed_scale <= 1.0:
            raise ValueError('joint_speed_scale must be in (0, 1]')
        if not 0.0 < self.stream_period <= 1.0:
            raise ValueError('stream_period must be in (0, 1] s')
        return self


class ArmWorld(SimWorld):
    """One simulated RealMan arm at the table. `reset(scene)` starts an episode."""

    def __init__(self, options: ArmSimOptions = ArmSimOptions()) -> None:
        super().__init__()
        self.options = options.validate()
        self.arm: ArmModel = arm_model(options.arm_model)
        seed_q, self.mount_yaw = HOME_POSTURE[self.arm.name]
        self.kin = Kinematics(self.arm, TOOL_OFFSET)
        self.rest = np.asarray(seed_q, dtype=np.float64)
        home, _, _ = self.kin.inverse(HOME_TCP, self.flange_rotation(DOWN), self.rest,
                                      rest=self.rest, iterations=200)
        if home is None:
            raise RuntimeError(f'no home posture for the {self.arm.name}')
        self.home = home
        self.scene: Optional[Scene] = None
        self.judge: Optional[Judge] = None
        self._episode_start: Optional[float] = None   # sim time of the first instruction
        self.hard_stops = 0
        self.held: Optional[str] = None
        self._grasp_width = 0.0

    # --- episode -------------------------------------------------------------------------------
    def reset(self, scene: Scene) -> None:
        """Build the scene's model and put the arm at its home pose, gripper open."""
        opts = self.options
        xml = build_mjcf(self.arm, scene, (opts.image_width, opts.image_height),
                         1.0 / opts.physics_rate,
                         jittered_appearance(scene.key, opts.visual_jitter), self.mount_yaw)
        model, data = self.load(xml)
        self.scene = scene
        self._qadr = np.array([model.joint(j.name).qposadr[0] for j in self.arm.joints])
        self._dadr = np.array([model.joint(j.name).dofadr[0] for j in self.arm.joints])
        self._fadr = np.array([model.joint(f).qposadr[0] for f in FINGERS])
        self._act = np.array([model.actuator(f'act_{j.name}').id for j in self.arm.joints])
        self._fact = np.array([model.actuator(f'act_{f}').id for f in FINGERS])
        self._finger_geoms = [model.geom(f).id for f in FINGERS]
        self._objects = {n: model.body(n).id for n in scene.objects}
        self._object_geoms = {model.geom(n).id: n for n in scene.objects}
        self._obj_free = {n: (model.joint(n).qposadr[0], model.joint(n).dofadr[0])
                          for n in scene.objects}
        self._welds = {n: model.equality(f'grasp_{n}').id for n in scene.objects}
        self._gripper_id = model.body(GRIPPER_BODY).id
        self._tcp_id = model.site(TCP_SITE).id
        q = self.home
        if opts.start_noise > 0.0:
            rng = np.random.default_rng(scene.key + [11])
            off = rng.normal(0.0, opts.start_noise, 3) * np.array([1.0, 1.0, 0.5])
            noisy, _, _ = self.kin.inverse(np.asarray(HOME_TCP) + off,
                                           self.flange_rotation(DOWN), self.home,
                                           rest=self.rest)
            q = noisy if noisy is not None else q
        data.qpos[self._qadr] = q
        data.qpos[self._fadr] = FINGER_TRAVEL
        self._target = np.array(q, dtype=np.float64)
        self._setpoint = np.array(q, dtype=np.float64)
        self._rate = self._max_rate()
        self._finger_target = FINGER_TRAVEL
        self._finger_setpoint = FINGER_TRAVEL
        data.ctrl[self._act] = q
        data.ctrl[self._fact] = FINGER_TRAVEL
        mujoco.mj_forward(model, data)
        self.held = None
        self._episode_start = None
        start = {n: tuple(float(v) for v in data.xpos[b]) for n, b in self._objects.items()}
        self.judge = Judge(scene, start)
        self.judge.observe(self.snapshot())

    @property
    def episode_time(self) -> float:
        """Seconds since the episode's first instruction (0 before it)."""
        return 0.0 if self._episode_start is None else self.time - self._episode_start

    @property
    def started(self) -> bool:
        return self._episode_start is not None

    def start_clock(self) -> None:
        """The first instruction of the episode arrived: its time limit starts now."""
        if self._episode_start is None:
            self._episode_start = self.time

    @property
    def done(self) -> bool:
        return self.judge is not None and self.judge.done

    @property
    def timed_out(self) -> bool:
        return (self.scene is not None and self.started
                and self.episode_time >= self.scene.time_limit)

    def finish(self, ended_by: str) -> Verdict:
        self._require()
        assert self.judge is not None
        return self.judge.finish(ended_by)

    @property
    def verdict(self) -> Verdict:
        self._require()
        assert self.judge is not None
        return self.judge.verdict

    # --- controller commands (validated by the node against core.driver first) -----------------
    def flange_rotation(self, tool_rotation: np.ndarray) -> np.ndarray:
        """Flange orientation for a tool orientation (the gripper's mounting yaw removed)."""
        return np.asarray(tool_rotation) @ _rz(-self.mount_yaw)

    def _max_rate(self) -> np.ndarray:
        """The set-point's speed limit per joint (rad/s)."""
        return np.asarray(self.arm.max_velocity) * self.options.joint_speed_scale

    def _follow(self, q: np.ndarray, follow: bool) -> None:
        """A new pass-through point: the set-point's speed per joint until it gets there."""
        self._target = q
        vmax = self._max_rate()
        if follow:
            self._rate = vmax
        else:     # low following: a straight line to the point over one stream period
            self._rate = np.minimum(np.abs(q - self._setpoint) / self.options.stream_period,
                                    vmax)

    def command_joints(self, q: Sequence[float], follow: bool = False) -> None:
        """A pass-through joint target (rad); `follow` is the messages' high-following flag."""
        self._follow(np.asarray(q, dtype=np.float64).copy(), follow)

    def command_pose(self, position: Sequence[float], quaternion: Sequence[float],
                     follow: bool = False) -> Tuple[bool, float, float]:
        """A pass-through tool pose: inverse kinematics from the current set-point.

        Returns (solved, position residual m, rotation residual rad); unsolved poses leave the
        target unchanged.
        """
        rot = self.flange_rotation(quaternion_to_matrix(quaternion))
        q, perr, rerr = self.kin.inverse(position, rot, self._setpoint, rest=self.rest,
                                         iterations=30, tolerance=(2e-4, 2e-3))
        if q is None:
            return False, perr, rerr
        self._follow(q, follow)
        return True, perr, rerr

    def hard_stop(self) -> None:
        """The driver's trajectory emergency stop: brake where the arm is, drop the target."""
        q = self.joint_positions()
        self._target = q.copy()
        self._setpoint = q.copy()
        self.hard_stops += 1

    def command_gripper(self, opening: float) -> None:
        """Gripper opening target (m, 0..0.07)."""
        self._finger_target = float(np.clip(0.5 * opening, 0.0, FINGER_TRAVEL))

    # --- stepping ------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance `n` physics steps; then grasp logic and the judge."""
        self._require()
        model, data = self.model, self.data
        dt = model.opt.timestep
        vmax = self._rate * dt
        fmax = 0.5 * self.options.gripper_speed * dt
        for _ in range(n):
            self._setpoint += np.clip(self._target - self._setpoint, -vmax, vmax)
            self._finger_setpoint += float(np.clip(self._finger_target - self._finger_setpoint,
                                                   -fmax, fmax))
            data.ctrl[self._act] = self._setpoint
            data.ctrl[self._fact] = self._finger_setpoint
            mujoco.mj_step(model, data)
        self.steps += n
        self._update_grasp()
        if self.judge is not None and not self.judge.done:
            if self.started:
                self.judge.observe(self.snapshot())
            if self.timed_out:
                self.judge.finish('timeout')

    def step_for(self, duration: float) -> None:
        """Advance `duration` s of sim time in control ticks."""
        substeps = max(1, int(round(self.options.physics_rate / CONTROL_RATE)))
        for _ in range(max(1, int(round(duration * CONTROL_RATE)))):
            self.step(substeps)

    def _update_grasp(self) -> None:
        data = self.data
        opening = self.gripper_opening()
        if self.held is not None:
            if 2.0 * self._finger_target > self._grasp_width + RELEASE_MARGIN:
                data.eq_active[self._welds[self.held]] = 0
                self.held = None
            return
        if 2.0 * self._finger_target >= opening - 1e-4:
            return   # not closing
        touching: Dict[int, set] = {g: set() for g in self._finger_geoms}
        for i in range(data.ncon):
            c = data.contact[i]
            g1, g2 = int(c.geom1), int(c.geom2)
            for f, o in ((g1, g2), (g2, g1)):
                if f in touching and o in self._object_geoms:
                    touching[f].add(self._object_geoms[o])
        both = set.intersection(*touching.values())
        if not both:
            return
        name = sorted(both)[0]
        self._weld(name)
        self._grasp_width = opening

    def _weld(self, name: str) -> None:
        model, data = self.model, self.data
        g, b = self._gripper_id, self._objects[name]
        rg = data.xmat[g].reshape(3, 3)
        rel_p = rg.T @ (data.xpos[b] - data.xpos[g])
        rel_r = rg.T @ data.xmat[b].reshape(3, 3)
        x, y, z, w = matrix_to_quaternion(rel_r)
        eq = self._welds[name]
        model.eq_data[eq][3:6] = rel_p
        model.eq_data[eq][6:10] = (w, x, y, z)
        data.eq_active[eq] = 1
        self.held = name

    # --- state ---------------------------------------------------------------------------------
    def joint_positions(self) -> np.ndarray:
        """True joint angles (rad)."""
        return np.array(self.data.qpos[self._qadr], dtype=np.float64)

    def joint_velocities(self) -> np.ndarray:
        return np.array(self.data.qvel[self._dadr], dtype=np.float64)

    def reported_joint_positions(self) -> np.ndarray:
        """What rm_driver's /joint_states carries (degrees x its DEGREE_RAD constant)."""
        return np.degrees(self.joint_positions()) * self.options.degree_rad

    def tool_pose(self) -> Tuple[Tuple[float, float, float], Tuple[float, float, float, float]]:
        """Tool point position (m) and orientation quaternion (x, y, z, w), base frame: what
        the controller reports on /rm_driver/udp_arm_position."""
        p = self.data.site_xpos[self._tcp_id]
        r = self.data.xmat[self._gripper_id].reshape(3, 3)
        return (float(p[0]), float(p[1]), float(p[2])), matrix_to_quaternion(r)

    def gripper_opening(self) -> float:
        """Distance between the fingers (m)."""
        return float(np.sum(self.data.qpos[self._fadr]))

    def object_states(self) -> Dict[str, ObjectState]:
        data = self.data
        out = {}
        for n, b in self._objects.items():
            _, dadr = self._obj_free[n]
            out[n] = ObjectState(tuple(float(v) for v in data.xpos[b]),
                                 float(data.xmat[b][8]),
                                 float(np.linalg.norm(data.qvel[dadr:dadr + 3])))
        return out

    def object_poses(self) -> Dict[str, Tuple[float, float, float, float]]:
        """name -> (x, y, z, yaw) of every movable object."""
        out = {}
        for n, b in self._objects.items():
            m = self.data.xmat[b]
            out[n] = (float(self.data.xpos[b][0]), float(self.data.xpos[b][1]),
                      float(self.data.xpos[b][2]), math.atan2(float(m[3]), float(m[0])))
        return out

    def snapshot(self) -> Snapshot:
        p, _ = self.tool_pose()
        speed = float(np.max(np.abs(self.joint_velocities())))
        return Snapshot(self.episode_time, self.object_states(), self.held, p,
                        self.gripper_opening(), speed)

    # --- cameras -------------------------------------------------------------------------------
    def render(self, camera: str = SCENE_CAMERA) -> np.ndarray:
        """RGB image (H, W, 3) uint8 from `scene_camera` or `wrist_camera`."""
        return self.render_camera(camera)


def with_options(options: ArmSimOptions, **changes: object) -> ArmSimOptions:
    return replace(options, **changes).validate()   # type: ignore[arg-type]


__all__ = ['ArmSimOptions', 'ArmWorld', 'CONTROL_RATE', 'GRIPPER_MAX_OPENING',
           'HOME_POSTURE', 'SCENE_CAMERA', 'WRIST_CAMERA', 'with_options']
