"""MJCF (MuJoCo XML) of a scenario: floor, the mecanum base, its camera and scanner, boxes, cup.

The base is a single body with planar joints (slide x, slide y, hinge yaw, all in the world
frame) driven by velocity actuators: the mecanum wheels' effect on the body (any planar
velocity) is modelled directly, not the rollers, which MuJoCo cannot simulate cheaply. Wheels
are drawn but do not collide. Boxes collide with the body; the cup does not (reaching it ends
the episode before the body would touch it).

Geom groups: 0 = obstacles and cup (what the scanner sees), 1 = robot, 2 = floor.
Collision bits: robot contype 1 / conaffinity 2, boxes contype 2 / conaffinity 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple
from xml.sax.saxutils import quoteattr

import numpy as np

from mobile_base.core.robot import DEFAULT_ROBOT, RobotSpec
from mobile_base.core.scenarios import ScenarioInstance

RGB = Tuple[float, float, float]

BASE_BODY = 'base_link'
CHASSIS_GEOM = 'chassis'
CAMERA = 'front_camera'
LASER_SITE = 'laser'
BASE_JOINTS = ('base_x', 'base_y', 'base_yaw')
GROUP_OBSTACLES, GROUP_ROBOT, GROUP_FLOOR = 0, 1, 2


@dataclass(frozen=True)
class Appearance:
    """Colours and lighting of one episode (jittered per seed when asked)."""

    floor_a: RGB = (0.78, 0.78, 0.76)
    floor_b: RGB = (0.62, 0.62, 0.60)
    box: RGB = (0.80, 0.52, 0.22)       # cardboard orange: stands out from the grey floor
    box_edge: RGB = (0.55, 0.33, 0.12)
    cup: RGB = (0.90, 0.08, 0.10)       # saturated red: the target
    robot: RGB = (0.20, 0.22, 0.25)
    sky_top: RGB = (0.55, 0.70, 0.90)
    sky_bottom: RGB = (0.92, 0.94, 0.96)
    light_diffuse: float = 0.75
    light_dir: Tuple[float, float, float] = (0.3, 0.2, -1.0)
    ambient: float = 0.35
    box_colors: Tuple[RGB, ...] = field(default_factory=tuple)   # per box, overrides `box`


def jittered_appearance(seed: int, amount: float = 1.0) -> Appearance:
    """An Appearance with colours and light randomised by `seed` (amount 0 = the default).

    Hues keep their identity (boxes stay orange-brown, the cup red) so the task stays well
    posed; brightness, saturation and light direction vary.
    """
    base = Appearance()
    if amount <= 0.0:
        return base
    rng = np.random.default_rng([int(seed), 2])

    def jit(rgb: RGB, scale: float) -> RGB:
        gain = 1.0 + amount * rng.uniform(-scale, scale)
        tint = amount * rng.uniform(-0.04, 0.04, size=3)
        r, g, b = (float(np.clip(c * gain + t, 0.0, 1.0)) for c, t in zip(rgb, tint))
        return (r, g, b)

    floor_gain = 1.0 + amount * rng.uniform(-0.15, 0.10)
    fa, fb = (tuple(float(np.clip(c * floor_gain, 0, 1)) for c in rgb)
              for rgb in (base.floor_a, base.floor_b))
    floor_a: RGB = (fa[0], fa[1], fa[2])
    floor_b: RGB = (fb[0], fb[1], fb[2])
    boxes = tuple(jit(base.box, 0.15) for _ in range(4))
    return Appearance(
        floor_a=floor_a, floor_b=floor_b, box=boxes[0], box_edge=base.box_edge,
        cup=jit(base.cup, 0.12), robot=base.robot, sky_top=jit(base.sky_top, 0.2),
        sky_bottom=base.sky_bottom,
        light_diffuse=float(base.light_diffuse * (1.0 + amount * rng.uniform(-0.3, 0.25))),
        light_dir=(float(rng.uniform(-0.6, 0.6) * amount + 0.3),
                   float(rng.uniform(-0.6, 0.6) * amount + 0.2), -1.0),
        ambient=float(base.ambient * (1.0 + amount * rng.uniform(-0.3, 0.3))),
        box_colors=boxes)


def camera_fovy(hfov: float, width: int, height: int) -> float:
    """Vertical field of view (deg, what MuJoCo wants) for a horizontal one (rad) and size."""
    return math.degrees(2.0 * math.atan(math.tan(0.5 * hfov) * height / width))


def _v(values: Sequence[float]) -> str:
    return ' '.join(f'{float(v):.6g}' for v in values)


def _rgba(rgb: RGB, alpha: float = 1.0) -> str:
    return _v((*rgb, alpha))


def build_mjcf(instance: ScenarioInstance, robot: RobotSpec = DEFAULT_ROBOT,
               image_size: Tuple[int, int] = (224, 224), timestep: float = 0.002,
               appearance: Optional[Appearance] = None, base_gain: float = 20.0) -> str:
    """The MJCF text of a scenario instance.

    image_size = (width, height) of the camera; `base_gain` (1/s) is the bandwidth of the base
    velocity loops (velocity actuators with kv = mass * gain).
    """
    app = appearance or Appearance()
    width, height = image_size
    fovy = camera_fovy(robot.camera_hfov, width, height)
    mass = robot.mass
    izz = mass * (robot.body_length ** 2 + robot.body_width ** 2) / 12.0
    hl, hw, hh = 0.5 * robot.body_length, 0.5 * robot.body_width, 0.5 * robot.body_height
    chassis_z = robot.wheel_radius + 0.02
    p = robot.camera_pitch
    cam_axes = _v((0, -1, 0, math.sin(p), 0, math.cos(p)))
    wheels = []
    for name, sx, sy in (('front_left', 1, 1), ('front_right', 1, -1), ('rear_left', -1, 1),
                         ('rear_right', -1, -1)):
        wheels.append(
            f'      <geom name="wheel_{name}" type="cylinder" '
            f'size="{robot.wheel_radius:.4g} {0.5 * robot.wheel_width:.4g}" '
            f'pos="{_v((sx * robot.half_wheelbase, sy * robot.half_track, robot.wheel_radius))}" '
            f'euler="1.5708 0 0" rgba="0.08 0.08 0.08 1" contype="0" conaffinity="0" '
            f'group="{GROUP_ROBOT}" mass="0"/>')
    obstacles = []
    for i, ob in enumerate(instance.obstacles):
        color = app.box_colors[i % len(app.box_colors)] if app.box_colors else app.box
        obstacles.append(
            f'    <body name="obstacle_{i}" pos="{_v((ob.x, ob.y, 0.5 * ob.height))}" '
            f'euler="0 0 {ob.yaw:.6g}">\n'
            f'      <geom name="obstacle_{i}" type="box" '
            f'size="{_v((0.5 * ob.length, 0.5 * ob.width, 0.5 * ob.height))}" '
            f'rgba="{_rgba(color)}" contype="2" conaffinity="1" group="{GROUP_OBSTACLES}"/>\n'
            f'      <geom name="obstacle_{i}_tape" type="box" '
            f'size="{_v((0.5 * ob.length + 0.001, 0.03, 0.5 * ob.height + 0.001))}" '
            f'rgba="{_rgba(app.box_edge)}" contype="0" conaffinity="0" '
            f'group="{GROUP_OBSTACLES}"/>\n'
            f'    </body>')
    mast_bottom = chassis_z + 2 * hh
    mast_pos = _v((robot.camera_x - 0.03, 0, 0.5 * (mast_bottom + robot.camera_z)))
    mast_size = _v((0.015, 0.03, 0.5 * (robot.camera_z - mast_bottom)))
    cup = instance.cup
    d = app.light_dir
    off_w, off_h = max(640, width), max(480, height)
    return f'''<mujoco model={quoteattr('mobile_base_' + instance.name)}>
  <compiler angle="radian"/>
  <option timestep="{timestep:.6g}" integrator="implicitfast"/>
  <visual>
    <global offwidth="{off_w}" offheight="{off_h}"/>
    <headlight ambient="{_v((app.ambient,) * 3)}" diffuse="0.25 0.25 0.25" specular="0 0 0"/>
    <quality shadowsize="0"/>
  </visual>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="{_v(app.sky_top)}"
             rgb2="{_v(app.sky_bottom)}" width="32" height="32"/>
    <texture name="floor" type="2d" builtin="checker" rgb1="{_v(app.floor_a)}"
             rgb2="{_v(app.floor_b)}" width="64" height="64"/>
    <material name="floor" texture="floor" texrepeat="2 2" texuniform="true" reflectance="0"/>
  </asset>
  <worldbody>
    <light name="sun" directional="true" pos="0 0 4" dir="{_v(d)}"
           diffuse="{_v((app.light_diffuse,) * 3)}" specular="0.1 0.1 0.1" castshadow="false"/>
    <geom name="floor" type="plane" size="12 12 0.1" material="floor" contype="0"
          conaffinity="0" group="{GROUP_FLOOR}"/>
    <body name="{BASE_BODY}" pos="0 0 0">
      <joint name="base_x" type="slide" axis="1 0 0"/>
      <joint name="base_y" type="slide" axis="0 1 0"/>
      <joint name="base_yaw" type="hinge" axis="0 0 1"/>
      <inertial pos="0 0 {chassis_z:.4g}" mass="{mass:.6g}"
                diaginertia="{_v((izz * 0.6, izz * 0.6, izz))}"/>
      <geom name="{CHASSIS_GEOM}" type="box" pos="0 0 {chassis_z + hh:.4g}"
            size="{_v((hl, hw, hh))}" rgba="{_rgba(app.robot)}" contype="1" conaffinity="2"
            group="{GROUP_ROBOT}" mass="0"/>
      <geom name="camera_mast" type="box" pos="{mast_pos}" size="{mast_size}"
            rgba="0.3 0.3 0.3 1" contype="0" conaffinity="0" group="{GROUP_ROBOT}" mass="0"/>
{chr(10).join(wheels)}
      <camera name="{CAMERA}" pos="{_v((robot.camera_x, 0, robot.camera_z))}"
              xyaxes="{cam_axes}" fovy="{fovy:.6g}"/>
      <site name="{LASER_SITE}" pos="0 0 {robot.laser_z:.4g}" size="0.02" group="{GROUP_ROBOT}"/>
    </body>
{chr(10).join(obstacles)}
    <body name="cup" pos="{_v((cup.x, cup.y, 0.5 * cup.height))}">
      <geom name="cup" type="cylinder" size="{_v((cup.radius, 0.5 * cup.height))}"
            rgba="{_rgba(app.cup)}" contype="0" conaffinity="0" group="{GROUP_OBSTACLES}"/>
      <geom name="cup_handle" type="box" pos="{_v((0, -cup.radius - 0.012, 0.01))}"
            size="0.012 0.01 0.035" rgba="{_rgba(app.cup)}" contype="0" conaffinity="0"
            group="{GROUP_OBSTACLES}"/>
    </body>
  </worldbody>
  <actuator>
    <velocity name="vel_x" joint="base_x" kv="{mass * base_gain:.6g}" forcelimited="true"
              forcerange="{_v((-6 * mass, 6 * mass))}" ctrllimited="false"/>
    <velocity name="vel_y" joint="base_y" kv="{mass * base_gain:.6g}" forcelimited="true"
              forcerange="{_v((-6 * mass, 6 * mass))}" ctrllimited="false"/>
    <velocity name="vel_yaw" joint="base_yaw" kv="{izz * base_gain:.6g}" forcelimited="true"
              forcerange="{_v((-15 * izz, 15 * izz))}" ctrllimited="false"/>
  </actuator>
</mujoco>
'''
