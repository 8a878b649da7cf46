"""MJCF (MuJoCo XML) of the tabletop: a RealMan arm from the shared model table, a parallel
gripper, the table, the task's objects and two cameras.

The arm's kinematic tree is `vla_common.arm_models` (RealMan's URDF joint origins, axes,
limits, link masses), the same table the safety gate's kinematics use. The links are drawn
as capsules between joint origins (RealMan's meshes are not used). Each joint has a position
servo (the controller's joint loop) limited to the URDF effort, and the links are gravity
compensated, as the real controller's are.

Gripper (on the flange, along its +z): a palm and two fingers on slide joints closing along
the flange's y axis, opening 0-70 mm like RealMan's gripper, fingers 60 mm long; the tool
point (TCP) between the fingertips, TOOL_OFFSET from the flange. The grasp is simplified: a
weld constraint per movable object, switched on by the world when the closing fingers both
touch that object (see `world.py`).

Collision bits: arm and gripper contype 1 (they do not collide with each other), table and
receptacles contype 2, objects contype 4; objects collide with everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple
from xml.sax.saxutils import quoteattr

import numpy as np
from vla_common.arm_models import ArmModel, matrix_to_quaternion, rpy_matrix
from vla_common.arm_tasks import OBJECTS

from arm_sim.core.scene import (BLOCK_SIZE, CUP_HEIGHT, CUP_RADIUS, PLATE_HEIGHT,
                                PLATE_RADIUS, Scene, TRAY_FLOOR, TRAY_SIZE, TRAY_WALL)

RGB = Tuple[float, float, float]

#: Tool point (between the fingertips) in the flange frame (m).
TOOL_OFFSET: Tuple[float, float, float] = (0.0, 0.0, 0.115)
FINGER_TRAVEL = 0.036        # m per finger: 72 mm full opening (the gripper's 70 mm + margin)
FINGER_Z = (0.07, 0.13)      # finger extent along the flange z (m)
GRIPPER_BODY = 'gripper'
FINGERS = ('finger_left', 'finger_right')
SCENE_CAMERA = 'scene_camera'
WRIST_CAMERA = 'wrist_camera'
#: The scene camera: across the table from the arm, above it, looking down at the workspace
#: so the table's objects, the tray and plates and the gripper at any height are in view
#: (image right = the robot's left).
SCENE_CAMERA_POS = (0.85, 0.0, 0.58)
SCENE_CAMERA_TARGET = (0.30, 0.0, 0.10)
SCENE_CAMERA_FOVY = 48
TCP_SITE = 'tcp'
TABLE_GEOM = 'table'


@dataclass(frozen=True)
class Appearance:
    """Colours and light of one episode (jittered per seed on request)."""

    table: RGB = (0.70, 0.55, 0.38)
    floor: RGB = (0.35, 0.35, 0.37)
    arm: RGB = (0.86, 0.87, 0.90)
    joint: RGB = (0.30, 0.32, 0.36)
    gripper: RGB = (0.18, 0.18, 0.20)
    tray: RGB = (0.22, 0.23, 0.27)
    plate: RGB = (0.96, 0.96, 0.96)
    objects: Dict[str, RGB] = field(default_factory=lambda: {
        'red_cup': (0.86, 0.10, 0.10), 'green_cup': (0.10, 0.62, 0.20),
        'blue_block': (0.10, 0.25, 0.88), 'yellow_block': (0.96, 0.80, 0.05)})
    light: float = 0.7
    light_dir: Tuple[float, float, float] = (0.2, 0.3, -1.0)
    ambient: float = 0.35


def jittered_appearance(key: Sequence[int], amount: float = 0.0) -> Appearance:
    """Brightness, tint and light randomised by the seed-sequence `key` (the scene's; amount
    0 = the default); every colour keeps its hue (red stays red), so the words still name what
    the camera sees."""
    base = Appearance()
    if amount <= 0.0:
        return base
    rng = np.random.default_rng([int(k) for k in key] + [7])

    def jit(rgb: RGB, scale: float) -> RGB:
        gain = 1.0 + amount * rng.uniform(-scale, scale)
        tint = amount * rng.uniform(-0.03, 0.03, size=3)
        r, g, b = (float(np.clip(c * gain + t, 0.0, 1.0)) for c, t in zip(rgb, tint))
        return (r, g, b)

    return Appearance(
        table=jit(base.table, 0.15), floor=jit(base.floor, 0.2), arm=base.arm,
        joint=base.joint, gripper=base.gripper, tray=jit(base.tray, 0.2),
        plate=jit(base.plate, 0.05),
        objects={k: jit(v, 0.12) for k, v in base.objects.items()},
        light=float(base.light * (1.0 + amount * rng.uniform(-0.25, 0.2))),
        light_dir=(float(0.2 + amount * rng.uniform(-0.5, 0.5)),
                   float(0.3 + amount * rng.uniform(-0.5, 0.5)), -1.0),
        ambient=float(base.ambient * (1.0 + amount * rng.uniform(-0.25, 0.25))))


def _v(values: Sequence[float]) -> str:
    return ' '.join(f'{float(v):.6g}' for v in values)


def _rgba(rgb: RGB, alpha: float = 1.0) -> str:
    return _v((*rgb, alpha))


def _quat_wxyz(rpy: Sequence[float]) -> str:
    x, y, z, w = matrix_to_quaternion(rpy_matrix(*rpy))
    return _v((w, x, y, z))


def _look_at_axes(pos: Sequence[float], target: Sequence[float],
                  right: Sequence[float]) -> str:
    """MuJoCo `xyaxes` of a camera at `pos` looking at `target`, image right along `right`."""
    z = np.asarray(pos, float) - np.asarray(target, float)
    z /= np.linalg.norm(z)
    x = np.asarray(right, float) - np.dot(right, z) * z
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return _v(list(x) + list(y))


def _link_radius(i: int, n: int) -> float:
    return 0.045 if i < 2 else 0.04 if i < n - 2 else 0.034


def _arm_xml(model: ArmModel, app: Appearance, gripper: str, indent: str) -> str:
    """Nested bodies base_link -> Link1 ... LinkN -> gripper."""
    n = model.dof
    lines: List[str] = []
    pad = indent
    base = model.links[0]
    first = np.asarray(model.joints[0].xyz, float)
    lines.append(f'{pad}<body name="base_link" pos="0 0 0">')
    lines.append(f'{pad}  <inertial pos="{_v(base.com)}" mass="{base.mass:.4g}" '
                 f'diaginertia="{_v(base.inertia)}"/>')
    lines.append(f'{pad}  <geom name="base_link" type="cylinder" fromto="0 0 0 {_v(first)}" '
                 f'size="0.055" rgba="{_rgba(app.arm)}" contype="0" conaffinity="0" '
                 f'group="1"/>')
    closing = [f'{pad}</body>']
    for i, joint in enumerate(model.joints):
        link = model.links[i + 1]
        pad = indent + '  ' * (i + 1)
        r = _link_radius(i, n)
        axis = np.asarray(joint.axis, float)
        lines.append(f'{pad}<body name="{link.name}" pos="{_v(joint.xyz)}" '
                     f'quat="{_quat_wxyz(joint.rpy)}" gravcomp="1">')
        lines.append(f'{pad}  <inertial pos="{_v(link.com)}" mass="{link.mass:.4g}" '
                     f'diaginertia="{_v(link.inertia)}"/>')
        lines.append(f'{pad}  <joint name="{joint.name}" type="hinge" axis="{_v(axis)}" '
                     f'range="{joint.lower:.6g} {joint.upper:.6g}" damping="2" '
                     f'armature="0.05"/>')
        lines.append(f'{pad}  <geom name="{joint.name}_housing" type="cylinder" '
                     f'fromto="{_v(-axis * r * 1.05)} {_v(axis * r * 1.05)}" '
                     f'size="{r * 1.08:.4g}" rgba="{_rgba(app.joint)}" contype="0" '
                     f'conaffinity="0" group="1"/>')
        if i + 1 < n:
            nxt = np.asarray(model.joints[i + 1].xyz, float)
            if np.linalg.norm(nxt) > 1e-3:
                lines.append(f'{pad}  <geom name="{link.name}" type="capsule" '
                             f'fromto="0 0 0 {_v(nxt)}" size="{r:.4g}" '
                             f'rgba="{_rgba(app.arm)}" contype="1" conaffinity="0" '
                             f'group="1"/>')
        closing.insert(0, f'{pad}</body>')
    lines.append(gripper)
    return '\n'.join(lines + closing)


def _gripper_xml(app: Appearance, indent: str, wrist_fovy: float, mount_yaw: float) -> str:
    z0, z1 = FINGER_Z
    fz, fh = 0.5 * (z0 + z1), 0.5 * (z1 - z0)
    tilt = math.radians(18.0)
    cam_pos = (-0.065, 0.0, 0.045)
    # Looks along the flange +z, tilted towards +x; image right = flange +y (the robot's right
    # when the tool points down), image up = flange +x (away from the base).
    axes = _v((0.0, 1.0, 0.0, math.cos(tilt), 0.0, -math.sin(tilt)))
    p = indent
    rgba = _rgba(app.gripper)
    # the two fingers mirror each other across the flange's xz plane (side +1 / -1 in y)
    fingers = '\n'.join(f'''{p}  <body name="{name}" gravcomp="1">
{p}    <inertial pos="0 {side * 0.006:g} {fz:.4g}" mass="0.04" diaginertia="1e-5 1e-5 1e-5"/>
{p}    <joint name="{name}" type="slide" axis="0 {side} 0" range="0 {FINGER_TRAVEL}"
{p}           damping="5" armature="0.01"/>
{p}    <geom name="{name}" type="box" pos="0 {side * 0.006:g} {fz:.4g}" size="0.011 0.006 {fh:.4g}"
{p}          rgba="{rgba}" friction="1.5 0.02 0.001" contype="1" conaffinity="0" group="1"/>
{p}  </body>''' for name, side in zip(FINGERS, (1, -1)))
    return f'''{p}<body name="{GRIPPER_BODY}" pos="0 0 0" euler="0 0 {mount_yaw:.9g}" gravcomp="1">
{p}  <inertial pos="0 0 0.05" mass="0.35" diaginertia="0.0004 0.0004 0.0003"/>
{p}  <geom name="gripper_mount" type="cylinder" fromto="0 0 0 0 0 0.03" size="0.032"
{p}        rgba="{rgba}" contype="1" conaffinity="0" group="1"/>
{p}  <geom name="gripper_palm" type="box" pos="0 0 0.05" size="0.024 0.05 0.02"
{p}        rgba="{rgba}" contype="1" conaffinity="0" group="1"/>
{p}  <geom name="wrist_camera_body" type="box" pos="{_v(cam_pos)}" size="0.012 0.018 0.012"
{p}        rgba="0.05 0.05 0.05 1" contype="0" conaffinity="0" group="1"/>
{p}  <site name="{TCP_SITE}" pos="{_v(TOOL_OFFSET)}" size="0.004" rgba="1 0 1 0" group="3"/>
{p}  <camera name="{WRIST_CAMERA}" pos="{_v(cam_pos)}" xyaxes="{axes}" fovy="{wrist_fovy:.4g}"/>
{fingers}
{p}</body>'''


def _object_xml(name: str, x: float, y: float, yaw: float, app: Appearance) -> str:
    shape, _ = OBJECTS[name]
    rgba = _rgba(app.objects[name])
    common = 'contype="4" conaffinity="7" group="0" friction="1.0 0.01 0.001"'
    if shape == 'cup':
        h = 0.5 * CUP_HEIGHT
        inner = _rgba(tuple(0.45 * c for c in app.objects[name]))
        geoms = (f'      <geom name="{name}" type="cylinder" size="{CUP_RADIUS} {h}" '
                 f'rgba="{rgba}" mass="0.08" {common}/>\n'
                 f'      <geom name="{name}_opening" type="cylinder" pos="0 0 {h:.4g}" '
                 f'size="{CUP_RADIUS - 0.004} 0.0008" rgba="{inner}" contype="0" '
                 f'conaffinity="0" mass="0" group="0"/>')
    else:
        h = 0.5 * BLOCK_SIZE
        geoms = (f'      <geom name="{name}" type="box" size="{h} {h} {h}" rgba="{rgba}" '
                 f'mass="0.05" {common}/>')
    return (f'    <body name="{name}" pos="{_v((x, y, h + 0.0005))}" euler="0 0 {yaw:.6g}">\n'
            f'      <freejoint name="{name}"/>\n{geoms}\n    </body>')


def _receptacle_xml(name: str, x: float, y: float, app: Appearance) -> str:
    common = 'contype="2" conaffinity="5" group="0"'
    if name == 'tray':
        lx, ly = 0.5 * TRAY_SIZE[0], 0.5 * TRAY_SIZE[1]
        t, wall = TRAY_WALL
        rgba = _rgba(app.tray)
        walls = [((0, ly - 0.5 * t), (lx, 0.5 * t)), ((0, -ly + 0.5 * t), (lx, 0.5 * t)),
                 ((lx - 0.5 * t, 0), (0.5 * t, ly)), ((-lx + 0.5 * t, 0), (0.5 * t, ly))]
        parts = [f'      <geom name="tray_floor" type="box" pos="0 0 {0.5 * TRAY_FLOOR:.4g}" '
                 f'size="{lx} {ly} {0.5 * TRAY_FLOOR:.4g}" rgba="{rgba}" {common}/>']
        for k, ((px, py), (sx, sy)) in enumerate(walls):
            parts.append(f'      <geom name="tray_wall_{k}" type="box" '
                         f'pos="{_v((px, py, 0.5 * wall))}" size="{_v((sx, sy, 0.5 * wall))}" '
                         f'rgba="{rgba}" {common}/>')
        body = '\n'.join(parts)
    else:
        body = (f'      <geom name="{name}" type="cylinder" pos="0 0 {0.5 * PLATE_HEIGHT:.4g}" '
                f'size="{PLATE_RADIUS} {0.5 * PLATE_HEIGHT:.4g}" rgba="{_rgba(app.plate)}" '
                f'{common}/>\n'
                f'      <geom name="{name}_rim" type="cylinder" pos="0 0 {PLATE_HEIGHT:.4g}" '
                f'size="{PLATE_RADIUS - 0.008} 0.0005" '
                f'rgba="{_rgba(tuple(0.9 * c for c in app.plate))}" contype="0" '
                f'conaffinity="0" group="0"/>')
    return f'    <body name="{name}" pos="{_v((x, y, 0))}">\n{body}\n    </body>'


def build_mjcf(model: ArmModel, scene: Scene, image_size: Tuple[int, int] = (224, 224),
               timestep: float = 0.002, appearance: Optional[Appearance] = None,
               mount_yaw: float = 0.0) -> str:
    """The MJCF text of `model` on the table with `scene`'s objects; the gripper is mounted on
    the flange turned by `mount_yaw` (rad) about the flange's z axis."""
    app = appearance or Appearance()
    width, height = image_size
    off_w, off_h = max(640, width), max(480, height)
    cam_pos = SCENE_CAMERA_POS
    scene_axes = _look_at_axes(cam_pos, SCENE_CAMERA_TARGET, (0.0, 1.0, 0.0))
    objects = '\n'.join(_object_xml(n, p.x, p.y, p.yaw, app) for n, p in scene.objects.items())
    receptacles = '\n'.join(_receptacle_xml(n, p.x, p.y, app)
                            for n, p in scene.receptacles.items())
    gripper = _gripper_xml(app, '  ' * (model.dof + 3), 75.0, mount_yaw)
    arm = _arm_xml(model, app, gripper, '    ')
    welds = '\n'.join(f'    <weld name="grasp_{n}" body1="{GRIPPER_BODY}" body2="{n}" '
                      f'active="false" solref="0.01 1"/>' for n in scene.objects)
    actuators = []
    for j in model.joints:
        kp = 12.0 * j.effort
        actuators.append(f'    <position name="act_{j.name}" joint="{j.name}" kp="{kp:.4g}" '
                         f'kv="{0.03 * kp:.4g}" ctrlrange="{j.lower:.6g} {j.upper:.6g}" '
                         f'forcerange="{-j.effort:.4g} {j.effort:.4g}"/>')
    for f in FINGERS:
        actuators.append(f'    <position name="act_{f}" joint="{f}" kp="400" kv="8" '
                         f'ctrlrange="0 {FINGER_TRAVEL}" forcerange="-20 20"/>')
    d = app.light_dir
    return f'''<mujoco model={quoteattr(f'{model.name}_{scene.name}')}>
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{timestep:.6g}" integrator="implicitfast" cone="elliptic"
          impratio="5"/>
  <visual>
    <global offwidth="{off_w}" offheight="{off_h}"/>
    <headlight ambient="{_v((app.ambient,) * 3)}" diffuse="0.25 0.25 0.25" specular="0 0 0"/>
    <quality shadowsize="0"/>
  </visual>
  <worldbody>
    <light name="sun" directional="true" pos="0 0 3" dir="{_v(d)}"
           diffuse="{_v((app.light,) * 3)}" specular="0.1 0.1 0.1" castshadow="false"/>
    <geom name="floor" type="plane" pos="0 0 -0.75" size="3 3 0.1"
          rgba="{_rgba(app.floor)}" contype="0" conaffinity="0" group="2"/>
    <geom name="{TABLE_GEOM}" type="box" pos="0.25 0 -0.02" size="0.5 0.6 0.02"
          rgba="{_rgba(app.table)}" contype="2" conaffinity="5" group="2"
          friction="0.8 0.01 0.001"/>
    <camera name="{SCENE_CAMERA}" pos="{_v(cam_pos)}" xyaxes="{scene_axes}"
            fovy="{SCENE_CAMERA_FOVY}"/>
{arm}
{receptacles}
{objects}
  </worldbody>
  <equality>
{welds}
  </equality>
  <actuator>
{chr(10).join(actuators)}
  </actuator>
</mujoco>
'''


__all__ = ['Appearance', 'FINGERS', 'FINGER_TRAVEL', 'GRIPPER_BODY', 'SCENE_CAMERA',
           'TCP_SITE', 'TOOL_OFFSET', 'WRIST_CAMERA', 'build_mjcf', 'jittered_appearance']
