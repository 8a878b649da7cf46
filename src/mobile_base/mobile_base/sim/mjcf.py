"""MJCF (MuJoCo XML) of a scenario: floor, walls, the mecanum base, its camera and scanner,
boxes, cup, distractor props and spare boxes (for mid-episode changes).

The base is a single body with planar joints (slide x, slide y, hinge yaw, all in the world
frame) driven by velocity actuators: the mecanum wheels' effect on the body (any planar
velocity) is modelled directly, not the rollers, which MuJoCo cannot simulate cheaply. Wheels
are drawn but do not collide. Boxes collide with the body; the cup does not (reaching it ends
the episode before the body would touch it).

Geom groups: 0 = obstacles, walls and cup (what the scanner sees), 1 = robot, 2 = floor,
3 = props (small objects below the scan plane that do not collide, like the cup).
Collision bits: robot contype 1 / conaffinity 2, boxes contype 2 / conaffinity 1.
Spare boxes wait far below the floor (`SPARE_PARK`) until the simulator moves one into place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple
from xml.sax.saxutils import quoteattr

from mobile_base.core.robot import DEFAULT_ROBOT, RobotSpec
from mobile_base.core.scenarios import ScenarioInstance

RGB = Tuple[float, float, float]

BASE_BODY = 'base_link'
CHASSIS_GEOM = 'chassis'
CAMERA = 'front_camera'
LASER_SITE = 'laser'
BASE_JOINTS = ('base_x', 'base_y', 'base_yaw')
GROUP_OBSTACLES, GROUP_ROBOT, GROUP_FLOOR, GROUP_PROPS = 0, 1, 2, 3
#: Where spare boxes wait (m, world frame): far below the floor, out of every sensor's view.
SPARE_PARK = (0.0, 0.0, -50.0)
#: The room: walls this far around the scenario frame (m): behind, ahead, left/right.
WALLS = {'back': -1.5, 'front': 4.5, 'side': 2.5}
WALL_HEIGHT = 1.2


@dataclass(frozen=True)
class Prop:
    """A small object on the floor that is not an obstacle (a distractor)."""

    x: float
    y: float
    shape: str            # 'box' | 'cylinder'
    size: Tuple[float, float, float]   # box: half sizes; cylinder: radius, half height, 0
    rgb: RGB


@dataclass(frozen=True)
class Appearance:
    """Colours and lighting of one episode (jittered per seed when asked)."""

    floor_a: RGB = (0.78, 0.78, 0.76)
    floor_b: RGB = (0.62, 0.62, 0.60)
    box: RGB = (0.80, 0.52, 0.22)       # cardboard orange: stands out from the grey floor
    cup: RGB = (0.90, 0.08, 0.10)       # saturated red: the target
    robot: RGB = (0.20, 0.22, 0.25)
    sky_top: RGB = (0.55, 0.70, 0.90)
    sky_bottom: RGB = (0.92, 0.94, 0.96)
    wall: RGB = (0.86, 0.84, 0.80)
    light_diffuse: float = 0.75
    light_dir: Tuple[float, float, float] = (0.3, 0.2, -1.0)
    light_rgb: RGB = (1.0, 1.0, 1.0)    # colour of the light (multiplies diffuse/ambient)
    ambient: float = 0.35
    box_colors: Tuple[RGB, ...] = field(default_factory=tuple)   # per box, overrides `box`
    floor_pattern: str = 'checker'      # 'checker' | 'plain' | 'speckle' (dots on a flat colour)
    floor_repeat: float = 2.0           # texture repeats per metre


def camera_fovy(hfov: float, width: int, height: int) -> float:
    """Vertical field of view (deg, what MuJoCo wants) for a horizontal one (rad) and size."""
    return math.degrees(2.0 * math.atan(math.tan(0.5 * hfov) * height / width))


def _v(values: Sequence[float]) -> str:
    return ' '.join(f'{float(v):.6g}' for v in values)


def _rgba(rgb: RGB, alpha: float = 1.0) -> str:
    return _v((*rgb, alpha))


def _floor_texture(app: Appearance) -> str:
    if app.floor_pattern == 'speckle':
        return (f'<texture name="floor" type="2d" builtin="flat" rgb1="{_v(app.floor_a)}" '
                f'mark="random" random="0.08" markrgb="{_v(app.floor_b)}" width="256" '
                'height="256"/>')
    if app.floor_pattern == 'plain':
        return (f'<texture name="floor" type="2d" builtin="flat" rgb1="{_v(app.floor_a)}" '
                'width="64" height="64"/>')
    if app.floor_pattern != 'checker':
        raise ValueError(f'unknown floor pattern {app.floor_pattern!r}')
    return (f'<texture name="floor" type="2d" builtin="checker" rgb1="{_v(app.floor_a)}" '
            f'rgb2="{_v(app.floor_b)}" width="64" height="64"/>')


def _walls(app: Appearance) -> str:
    back, front, side = WALLS['back'], WALLS['front'], WALLS['side']
    h = 0.5 * WALL_HEIGHT
    cx, hx = 0.5 * (back + front), 0.5 * (front - back)
    rows = []
    for name, pos, size in (('wall_front', (front, 0.0, h), (0.02, side, h)),
                            ('wall_back', (back, 0.0, h), (0.02, side, h)),
                            ('wall_left', (cx, side, h), (hx, 0.02, h)),
                            ('wall_right', (cx, -side, h), (hx, 0.02, h))):
        rows.append(f'    <geom name="{name}" type="box" pos="{_v(pos)}" size="{_v(size)}" '
                    f'rgba="{_rgba(app.wall)}" contype="2" conaffinity="1" '
                    f'group="{GROUP_OBSTACLES}"/>')
    return '\n'.join(rows)


def _props(props: Sequence[Prop]) -> str:
    rows = []
    for i, p in enumerate(props):
        size = _v(p.size[:2]) if p.shape == 'cylinder' else _v(p.size)
        rows.append(f'    <geom name="prop_{i}" type="{p.shape}" '
                    f'pos="{_v((p.x, p.y, p.size[1] if p.shape == "cylinder" else p.size[2]))}" '
                    f'size="{size}" rgba="{_rgba(p.rgb)}" contype="0" conaffinity="0" '
                    f'group="{GROUP_PROPS}"/>')
    return '\n'.join(rows)


def _box_body(name: str, pos: Sequence[float], yaw: float, size: Sequence[float],
              color: RGB) -> str:
    length, width, height = size
    edge = tuple(0.68 * c for c in color)     # the tape band: a darker shade of the box
    return (f'    <body name="{name}" pos="{_v(pos)}" euler="0 0 {yaw:.6g}">\n'
            f'      <geom name="{name}" type="box" '
            f'size="{_v((0.5 * length, 0.5 * width, 0.5 * height))}" '
            f'rgba="{_rgba(color)}" contype="2" conaffinity="1" group="{GROUP_OBSTACLES}"/>\n'
            f'      <geom name="{name}_tape" type="box" '
            f'size="{_v((0.5 * length + 0.001, 0.03, 0.5 * height + 0.001))}" '
            f'rgba="{_rgba(edge)}" contype="0" conaffinity="0" '
            f'group="{GROUP_OBSTACLES}"/>\n'
            f'    </body>')


def build_mjcf(instance: ScenarioInstance, robot: RobotSpec = DEFAULT_ROBOT,
               image_size: Tuple[int, int] = (224, 224), timestep: float = 0.002,
               appearance: Optional[Appearance] = None, base_gain: float = 20.0,
               props: Sequence[Prop] = (),
               spare_boxes: Sequence[Tuple[float, float, float]] = ()) -> str:
    """The MJCF text of a scenario instance.

    image_size = (width, height) of the camera; `base_gain` (1/s) is the bandwidth of the base
    velocity loops (velocity actuators with kv = mass * gain); `props` are distractors;
    `spare_boxes` are the sizes (length, width, height) of boxes parked out of sight as
    `spare_<i>` for the simulator to move in mid-episode.
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

    def color(i: int) -> RGB:
        return app.box_colors[i % len(app.box_colors)] if app.box_colors else app.box

    obstacles = [_box_body(f'obstacle_{i}', (ob.x, ob.y, 0.5 * ob.height), ob.yaw,
                           (ob.length, ob.width, ob.height), color(i))
                 for i, ob in enumerate(instance.obstacles)]
    n = len(instance.obstacles)
    obstacles += [_box_body(f'spare_{i}', SPARE_PARK, 0.0, size, color(n + i))
                  for i, size in enumerate(spare_boxes)]
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
    <headlight ambient="{_v(tuple(app.ambient * c for c in app.light_rgb))}"
               diffuse="{_v(tuple(0.25 * c for c in app.light_rgb))}" specular="0 0 0"/>
    <quality shadowsize="0"/>
  </visual>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="{_v(app.sky_top)}"
             rgb2="{_v(app.sky_bottom)}" width="32" height="32"/>
    {_floor_texture(app)}
    <material name="floor" texture="floor" texrepeat="{_v((app.floor_repeat,) * 2)}"
              texuniform="true" reflectance="0"/>
  </asset>
  <worldbody>
    <light name="sun" directional="true" pos="0 0 4" dir="{_v(d)}"
           diffuse="{_v(tuple(app.light_diffuse * c for c in app.light_rgb))}"
           specular="0.1 0.1 0.1" castshadow="false"/>
    <geom name="floor" type="plane" size="12 12 0.1" material="floor" contype="0"
          conaffinity="0" group="{GROUP_FLOOR}"/>
{_walls(app)}
{_props(props)}
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
